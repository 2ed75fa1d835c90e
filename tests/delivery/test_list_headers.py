"""Bulk mail carries List-Id and Feedback-ID; Message-IDs never collide between databases, and a
batch built again is the same payload (Resend's idempotency key depends on it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.delivery import claims, send_frozen_test_copy
from digest.delivery.compose import Composer
from digest.models import Issue, metadata
from digest.transports.outbox import OutboxTransport
from digest.transports.resend import ResendTransport
from tests.support.ledger import NOW, run_send, setup_send
from tests.support.node_mail import node_parse
from tests.support.outbox import read_outbox
from tests.support.resend_server import FakeResend
from tests.support.settings import make_test_settings

LIST_ID = "Weekly AI Tool Verdicts <weekly-ai-tool-verdicts.aitoolverdicts.example>"


@pytest.fixture
def fake() -> Iterator[FakeResend]:
    with FakeResend() as server:
        yield server


def test_every_copy_of_an_issue_names_its_list_and_feedback_loop(
    engine: Engine, settings: Settings
) -> None:
    issue_id = setup_send(engine, settings, 3)
    run_send(engine, settings, issue_id, OutboxTransport(settings.outbox_dir))
    messages = read_outbox(settings.outbox_dir)
    assert len(messages) == 3
    for message in messages:
        assert message["List-Id"] == LIST_ID
        assert message["Feedback-ID"] == "1:issue:weekly-ai-tool-verdicts"
    raw = sorted(settings.outbox_dir.glob("*.eml"))[0].read_bytes()
    head = re.sub(rb"\r?\n[ \t]", b" ", raw.split(b"\n\n", 1)[0])  # unfolded
    assert f"\nList-Id: {LIST_ID}\n".encode() in head  # plain ASCII, as written
    parsed = node_parse(raw)  # and a parser that is not Python's reads the same
    assert parsed["headers"]["list"]["id"] == {
        "name": "Weekly AI Tool Verdicts",
        "id": "weekly-ai-tool-verdicts.aitoolverdicts.example",
    }
    assert parsed["headers"]["feedback-id"] == "1:issue:weekly-ai-tool-verdicts"


def test_a_test_copy_says_it_is_one(engine: Engine, settings: Settings) -> None:
    issue_id = setup_send(engine, settings, 1)
    with session_scope(engine, read_only=True) as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None
        transport = OutboxTransport(settings.outbox_dir)
        send_frozen_test_copy(settings, issue, to="editor@example.com", transport=transport)
    (copy,) = read_outbox(settings.outbox_dir)
    assert copy["List-Id"] == LIST_ID and copy["Feedback-ID"] == "1:test:weekly-ai-tool-verdicts"
    assert copy["List-Unsubscribe"] is None  # nobody's own link in a test copy


def test_a_non_ascii_newsletter_name_stays_readable(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_test_settings(
        tmp_path,
        sqlite_url,
        newsletter_name="Les Verdicts de l'\u00e9t\u00e9",
        from_email="Verdicts <digest@b\u00fccher.example>",
    )
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    try:
        run_send(engine, settings, setup_send(engine, settings, 1), OutboxTransport(tmp_path / "o"))
    finally:
        engine.dispose()
    (message,) = read_outbox(tmp_path / "o")
    assert str(message["List-Id"]) == (
        "Les Verdicts de l'\u00e9t\u00e9 <les-verdicts-de-l-t.xn--bcher-kva.example>"
    )
    assert message["Feedback-ID"] == "1:issue:les-verdicts-de-l-t"


def message_ids(settings: Settings, outbox: Path) -> set[str]:
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    try:
        run_send(engine, settings, setup_send(engine, settings, 3), OutboxTransport(outbox))
    finally:
        engine.dispose()
    return {str(m["Message-ID"]) for m in read_outbox(outbox)}


def test_two_databases_sending_from_one_domain_never_share_a_message_id(
    tmp_path: Path,
) -> None:
    """Staging and production: same domain, same secret, same readers, same issue number,
    the same instant. Gmail drops a message whose Message-ID it has seen."""
    staging = make_test_settings(tmp_path, f"sqlite:///{tmp_path / 'staging.db'}")
    production = make_test_settings(tmp_path, f"sqlite:///{tmp_path / 'production.db'}")
    first = message_ids(staging, tmp_path / "staging")
    second = message_ids(production, tmp_path / "production")
    assert len(first) == len(second) == 3
    assert not first & second


def test_a_batch_built_again_is_the_same_payload(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    """After a crash the batch is rebuilt and sent again under its key: Resend answers the
    first answer only if the payload (Message-ID included) is byte for byte the same."""
    issue_id = setup_send(engine, settings, 3)
    with session_scope(engine) as session:
        claim = claims.claim_batch(
            session, issue_id=issue_id, owner="a", now=NOW, lease=timedelta(minutes=1)
        )
        issue = session.get(Issue, issue_id)
        assert claim is not None and issue is not None
        first = Composer(settings, issue, now=NOW).build(claim)
        again = Composer(settings, issue, now=NOW + timedelta(hours=1)).build(claim)
    assert first == again
    transport = ResendTransport(api_key=fake.api_key, api_url=fake.url, timeout=5)
    one = transport.send_batch(first, idempotency_key=claim.idempotency_key)
    two = transport.send_batch(again, idempotency_key=claim.idempotency_key)
    assert [r.provider_id for r in one] == [r.provider_id for r in two]
    assert len(fake.accepted) == 3
    ids = {email["headers"]["Message-ID"] for email in fake.accepted}
    assert len(ids) == 3 and all(i.endswith("@aitoolverdicts.example>") for i in ids)
