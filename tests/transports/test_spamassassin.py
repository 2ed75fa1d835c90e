"""SpamAssassin (the real tool, its shipped rules, offline) reads every kind of email we send,
as it goes on the wire, and finds nothing our content could fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from digest import issues
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import Pacer, claims, send_issue
from digest.models import ConsentRoute, MessageKind
from digest.readers import mail_compose, mail_queue, subscriptions
from digest.transports.outbox import OutboxTransport
from tests.support.issue_data import import_docs
from tests.support.samples import SAMPLES
from tests.support.settings import make_test_settings
from tests.support.spam import spamassassin

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
# Rules that hit every message before it leaves us, and that no content of ours can change:
ACCEPTED = {
    # Informational, 0 points: Received headers are added by the servers a message passes
    # through; a message scored before it is sent has none.
    "NO_RECEIVED",
    "NO_RELAYS",
    # Informational, 0 points: we send HTML (with its plain-text twin) on purpose.
    "HTML_MESSAGE",
}
# Not accepted and not seen: DKIM and SPF results (the provider signs, DNS says who may send)
# cannot be judged offline (-L); if a rule of theirs appeared it would fail here, on purpose.


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One issue (the sample comparisons), one confirmation, one settings-link email and one
    welcome (with the issue's cards, greeted by name), as the outbox wrote them (the bytes SMTP
    sends too)."""
    from digest.db import make_engine
    from digest.models import metadata

    folder = tmp_path_factory.mktemp("spam")
    settings = make_test_settings(
        folder,
        f"sqlite:///{folder / 'db.sqlite'}",
        base_url="https://digest.aitoolverdicts.example",
    )
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    try:
        send_everything(engine, settings, OutboxTransport(folder / "mail"))
    finally:
        engine.dispose()
    kinds = {"confirm-": "confirm", "manage-": "manage", "welcome-": "welcome", "i1-": "issue"}
    return {
        kind: path.read_bytes()
        for path in (folder / "mail").glob("*.eml")
        for prefix, kind in kinds.items()
        if path.name.startswith(prefix)
    }


def send_everything(engine: Engine, settings: Settings, outbox: OutboxTransport) -> None:
    docs = [json.loads(path.read_text(encoding="utf-8")) for path in SAMPLES]
    for hours, doc in enumerate(docs, start=1):
        doc["published_at"] = (NOW - timedelta(hours=hours)).isoformat()
    import_docs(engine, docs, now=NOW)
    with session_scope(engine) as session:
        reader = subscriptions.add_subscriber(
            session, "reader@example.com", confirmed=True, route=ConsentRoute.CLI, now=NOW
        )
        newcomer = subscriptions.add_subscriber(
            session, "newcomer@example.com", route=ConsentRoute.FORM, now=NOW
        )
        for who, kind in ((newcomer, MessageKind.CONFIRM), (reader, MessageKind.MANAGE)):
            message = mail_queue.queue_message(session, who, kind, now=NOW)
            email = mail_compose.compose(settings, message, who)
            assert email is not None
            outbox.send_batch([email], idempotency_key=message.reference)
        issue = issues.claim_issue(session, settings, now=NOW)
        issue = issues.freeze_issue(session, settings, issue, now=NOW)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=NOW)
        assert issue.id is not None
        issue_id = issue.id
    send_issue(engine, settings, issue_id, transport=outbox, pacer=Pacer(100), now=NOW)
    with session_scope(engine) as session:
        welcomed = subscriptions.add_subscriber(
            session, "ann@example.com", name="Ann", confirmed=True, route=ConsentRoute.FORM, now=NOW
        )
        later = NOW + timedelta(hours=1)
        message = mail_queue.queue_message(
            session,
            welcomed,
            MessageKind.WELCOME,
            now=later,
            issue_id=issue_id,
            next_issue_at=NOW + timedelta(days=7),
        )
        welcome = mail_compose.load_welcome(session, message, welcomed)
        email = mail_compose.compose(settings, message, welcomed, welcome)
        assert email is not None
        outbox.send_batch([email], idempotency_key=message.reference)


@pytest.mark.parametrize("kind", ["issue", "confirm", "manage", "welcome"])
def test_no_rule_our_content_can_fix(sent: dict[str, bytes], kind: str, tmp_path: Path) -> None:
    verdict = spamassassin(sent[kind], tmp_path)
    assert verdict.rules - ACCEPTED == set(), f"{kind}: {sorted(verdict.rules - ACCEPTED)}"
    assert verdict.score <= 0.0
