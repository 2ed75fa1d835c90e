"""The corpus: 62 real bounce and complaint messages from many senders (tests/data/bounces,
sources and licences in LICENSES/README.md). At least 95% must be classified as the corpus's
publisher classifies them; every misclassification is listed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest import bounces
from digest.config import Settings
from digest.db import session_scope
from digest.models import Subscriber, SubscriberStatus
from tests.support.ledger import add_readers

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bounces"
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def expectations() -> list[tuple[str, str]]:
    lines = (CORPUS / "expected.tsv").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")[:2]) for line in lines if line and not line.startswith("#")]  # type: ignore[misc]


def test_the_corpus_is_real_varied_and_licensed() -> None:
    cases = expectations()
    assert len(cases) >= 30 and all((CORPUS / name).exists() for name, _ in cases)
    families = {name.rsplit("-", 1)[0] for name, _ in cases}
    for family in ["lhost-postfix", "lhost-exim", "lhost-gmail", "lhost-outlook", "lhost-yahoo",
                   "lhost-amazonses", "lhost-qmail", "lhost-sendmail", "arf"]:  # fmt: skip
        assert family in families
    assert any(f.startswith("lhost-exchange") for f in families)
    assert {kind for _, kind in cases} == {"hard", "soft", "complaint", "unknown"}
    licences = (CORPUS / "LICENSES" / "README.md").read_text(encoding="utf-8")
    assert "BSD 2-Clause" in licences and "sisimai/set-of-emails" in licences


def test_at_least_95_percent_are_classified_as_published() -> None:
    wrong = []
    for name, expected in expectations():
        found = bounces.read_bounce((CORPUS / name).read_bytes())
        if found.kind != expected:
            wrong.append(f"{name}: expected {expected}, read {found.kind} ({found.finding.detail})")
    total = len(expectations())
    print(
        f"{total - len(wrong)}/{total} classified as published; misclassified:", *wrong, sep="\n  "
    )
    assert (total - len(wrong)) / total >= 0.95, "\n".join(wrong)


def test_unrecognised_messages_are_never_hard_bounces() -> None:
    for name, expected in expectations():
        if expected == "unknown":
            assert bounces.read_bounce((CORPUS / name).read_bytes()).kind == "unknown", name


def test_the_corpus_applied_without_verp_suppresses_nobody_and_is_counted(
    engine: Engine, settings: Settings
) -> None:
    """Bounces that name no signed message of ours are kept and counted, on each engine, and a
    second import changes nothing (one event per bounce message id)."""
    configured = settings.model_copy(update={"bounce_domain": "bounces.example.com"})
    with session_scope(engine) as session:
        add_readers(session, 3)
    ids = set()
    for _ in range(2):
        for name, _kind in expectations():
            bounce = bounces.read_bounce((CORPUS / name).read_bytes())
            ids.add(bounce.message_id)
            with session_scope(engine) as session:
                bounces.record_bounce(session, bounce, settings=configured, now=NOW)
    with session_scope(engine, read_only=True) as session:
        statuses = set(session.exec(select(Subscriber.status)).all())
        rows = session.execute(
            text("SELECT event_type, count(*) FROM webhook_event GROUP BY event_type")
        ).all()
        suppressed = session.exec(
            select(Subscriber).where(col(Subscriber.suppressed_at).is_not(None))
        ).all()
    assert statuses == {SubscriberStatus.CONFIRMED} and suppressed == []
    counted = {kind: n for kind, n in rows}
    assert sum(counted.values()) == len(ids)  # two corpus messages share one Message-ID
    assert counted["smtp.unknown"] >= 3
