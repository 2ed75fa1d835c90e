"""Header injection replayed end to end: hostile text comes in the way it really does (a tool
imported through the API or the catalog, the editor's subject override), the issue is frozen
and sent through each real transport, and what arrives has exactly the headers we meant."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest import delivery, issues
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import Pacer, claims
from digest.transports import Transport
from digest.transports.outbox import OutboxTransport
from digest.transports.resend import ResendTransport
from digest.transports.smtp import SmtpTransport
from tests.support.issue_data import import_docs, week_of
from tests.support.ledger import FAST, add_readers
from tests.support.live_server import live_server
from tests.support.outbox import read_outbox
from tests.support.resend_server import FakeResend
from tests.support.settings import make_test_settings
from tests.support.smtp_inbox import Inbox, start

ATTACKS = [
    "=?utf-8?q?=0D=0AReply-To:_a@evil.io?=",
    "=?utf-8?q?=0D=0A=0D=0A?=",  # an encoded blank line: every header after it became body
]
# The headers of an issue's copy; Resend adds its own (the fake marks its id and the tag).
OURS = {
    "from",
    "to",
    "subject",
    "message-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-id",
    "feedback-id",
    "mime-version",
    "content-type",
}
EXPECTED = {
    "outbox": OURS | {"date", "x-digest-tag-issue"},
    "smtp": OURS | {"date", "x-digest-tag-issue"},
    "resend": OURS | {"x-resend-id", "x-tag-issue"},
}
Wire = tuple[str, Transport, Callable[[], list[EmailMessage]]]


@pytest.fixture(params=["outbox", "smtp", "resend"])
def wire(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Wire]:
    if request.param == "outbox":
        folder = tmp_path / "sent"
        yield "outbox", OutboxTransport(folder), lambda: read_outbox(folder)
    elif request.param == "smtp":
        inbox = Inbox()
        controller = start(inbox)
        yield "smtp", SmtpTransport(f"smtp://127.0.0.1:{controller.port}"), lambda: inbox.messages
        controller.stop()
    else:
        with FakeResend() as fake:
            transport = ResendTransport(api_key=fake.api_key, api_url=fake.url, timeout=5)
            yield "resend", transport, fake.messages


def attacked_doc(name: str, now: datetime) -> dict[str, object]:
    (doc,) = week_of(now, 1, long=False)
    doc["tools"][0]["name"] = name
    doc["tools"][1]["name"] = "Beta"
    return doc


def send_week(engine: Engine, settings: Settings, transport: Transport, now: datetime) -> str:
    """Freeze the week's issue, send it to three readers; returns the frozen subject."""
    with session_scope(engine) as session:
        issue = issues.freeze_issue(
            session, settings, issues.claim_issue(session, settings, now=now), now=now
        )
        add_readers(session, 3)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=now)
        assert issue.id is not None and issue.subject
        issue_id, subject = issue.id, issue.subject
    report = delivery.send_issue(
        engine, settings, issue_id, transport=transport, pacer=Pacer(1000), now=now, policy=FAST
    )
    assert report.finished and report.counts["sent"] == 3, report.counts
    return subject


def assert_exactly_our_headers(kind: str, messages: list[EmailMessage], subject: str) -> None:
    assert len(messages) == 3
    for message in messages:
        assert {name.lower() for name in message} == EXPECTED[kind]
        assert len(message.keys()) == len(EXPECTED[kind])  # and none twice
        shown = str(message["Subject"]).replace("\u200b", "")
        assert shown == subject and "\r" not in shown and "\n" not in shown
        assert str(message["List-Unsubscribe"]).startswith("<http://digest.test/unsubscribe/")
        body = message.get_body(("plain",))
        assert body is not None and "Unsubscribe" in body.get_content()


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_tool_imported_through_the_catalog(
    engine: Engine, settings: Settings, wire: Wire, attack: str
) -> None:
    kind, transport, received = wire
    now = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    import_docs(engine, [attacked_doc(attack, now)], now=now)
    subject = send_week(engine, settings, transport, now)
    assert attack in subject  # the name is kept as text, never dropped or decoded
    assert_exactly_our_headers(kind, received(), subject)


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_editors_subject_override(
    engine: Engine, settings: Settings, wire: Wire, attack: str
) -> None:
    kind, transport, received = wire
    now = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    import_docs(engine, [attacked_doc("Alpha", now)], now=now)
    with session_scope(engine) as session:
        issues.set_overrides(session, settings, subject=f"Hi {attack} there", note=None, now=now)
    subject = send_week(engine, settings, transport, now)
    assert subject == f"Hi {attack} there"
    assert_exactly_our_headers(kind, received(), subject)


def test_a_tool_posted_to_the_api(
    tmp_path: Path, settings: Settings, engine: Engine, wire: Wire
) -> None:
    kind, transport, received = wire
    now = datetime.now(UTC).replace(microsecond=0)
    doc = attacked_doc(ATTACKS[0], now - timedelta(hours=1))
    api = make_test_settings(tmp_path, settings.database_url, api_token="t" * 32)
    with live_server(api) as base:
        answer = httpx.post(
            f"{base}/api/comparisons",
            json=doc,
            headers={"Authorization": f"Bearer {'t' * 32}"},
            timeout=10,
        )
    assert answer.status_code == 200, answer.text
    subject = send_week(engine, settings, transport, now)
    assert ATTACKS[0] in subject
    assert_exactly_our_headers(kind, received(), subject)
