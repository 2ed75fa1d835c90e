"""The demo's send step: sample readers get the week's issue once, through the outbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from digest import catalog
from digest.config import Settings
from digest.db import session_scope
from digest.demo import SAMPLE_READERS, sample_documents, send_sample_issue
from tests.support.cli import digest_env, run_digest
from tests.support.ledger import NOW
from tests.support.outbox import read_outbox


def test_the_sample_issue_goes_out_once(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        catalog.import_comparisons(session, sample_documents(), now=NOW - timedelta(hours=1))
    first = send_sample_issue(settings, engine, now=NOW)
    again = send_sample_issue(settings, engine, now=NOW + timedelta(minutes=5))
    assert first.number == 1 and first.counts["sent"] == len(SAMPLE_READERS)
    assert "this run sent 3" in first.note and "already sent" in again.note
    received = sorted(str(m["To"]) for m in read_outbox(settings.outbox_dir))
    assert received == sorted(address for address, _ in SAMPLE_READERS)


def test_an_empty_week_sends_nothing(engine: Engine, settings: Settings) -> None:
    result = send_sample_issue(settings, engine, now=NOW)
    assert result.number is None and result.note.startswith("Nothing to send")
    assert not settings.outbox_dir.exists()


def test_make_demo_sends_to_the_sample_readers_once(tmp_path: Path, sqlite_url: str) -> None:
    """Needs the migration to carry the ledger tables (regenerated from the models)."""
    env = digest_env(tmp_path, sqlite_url)
    first = run_digest(["demo"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "this run sent 3" in first.stdout and "sent 3" in first.stdout
    again = run_digest(["demo"], env, tmp_path)
    assert again.returncode == 0 and "nobody is mailed twice" in again.stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
