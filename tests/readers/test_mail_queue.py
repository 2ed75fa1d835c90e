"""Transactional mail survives transport failures: stored, retried with backoff, sent once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.models import (
    ConsentRoute,
    MessageKind,
    MessageStatus,
    TransactionalMessage,
    metadata,
)
from digest.readers import mail_queue, privacy, signup, subscriptions
from digest.transports import make_transport
from tests.support.mailbox import outbox_mail
from tests.support.readers import subscribe_now
from tests.support.settings import make_test_settings

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def queue_confirmation(engine: Engine, settings: Settings, email: str) -> mail_queue.Held:
    """What POST /subscribe does: the signup and its (held) confirmation in one transaction."""
    request = signup.SignupRequest(email=email, route=ConsentRoute.API, ip="127.0.0.1")
    with session_scope(engine) as session:
        result = subscribe_now(session, settings, request, now=NOW)
    assert result.held is not None and result.message_id is not None
    return result.held


def queue_plain(engine: Engine, email: str) -> int:
    with session_scope(engine) as session:
        reader = subscriptions.add_subscriber(session, email, route=ConsentRoute.CLI, now=NOW)
        return mail_queue.queue_message(session, reader, MessageKind.CONFIRM, now=NOW).id or 0


def message(engine: Engine, message_id: int) -> TransactionalMessage:
    with session_scope(engine, read_only=True) as session:
        found = session.get(TransactionalMessage, message_id)
        assert found is not None
        return found


def broken(tmp_path: Path, settings: Settings, **overrides: object) -> Settings:
    """The outbox "folder" is a file: every send fails with a retryable TransportError."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    return make_test_settings(
        tmp_path, settings.database_url, outbox_dir=blocker / "outbox", **overrides
    )


def test_failed_send_is_retried_later_and_sent_once(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    held = queue_confirmation(engine, settings, "reader@example.com")
    message_id = held.message.id or 0
    failing = broken(tmp_path, settings)
    assert not mail_queue.deliver_held(
        engine, failing, held, transport=make_transport(failing), now=NOW
    )
    failed = message(engine, message_id)
    assert failed.status == MessageStatus.PENDING and failed.attempts == 1
    assert failed.last_error and "outbox" in failed.last_error
    assert failed.next_attempt_at == NOW + mail_queue.FIRST_RETRY
    assert (
        mail_queue.send_pending_messages(
            engine, settings, transport=make_transport(settings), now=NOW
        )
        == 0
    )  # not due yet
    later = NOW + mail_queue.FIRST_RETRY
    assert (
        mail_queue.send_pending_messages(
            engine, settings, transport=make_transport(settings), now=later
        )
        == 1
    )
    assert (
        mail_queue.send_pending_messages(
            engine, settings, transport=make_transport(settings), now=later + timedelta(hours=1)
        )
        == 0
    )
    sent = message(engine, message_id)
    assert sent.status == MessageStatus.SENT and sent.sent_at == later and sent.provider_id
    mail = outbox_mail(settings.outbox_dir)
    assert [m.to for m in mail] == ["reader@example.com"]
    assert "/confirm/" in mail[0].link("confirm")


def test_gives_up_after_the_last_attempt(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    failing = broken(tmp_path, settings, message_max_attempts=2)
    message_id = queue_plain(engine, "reader@example.com")
    moment = NOW
    for attempt in (1, 2):
        assert message(engine, message_id).status == MessageStatus.PENDING, attempt
        mail_queue.send_pending_messages(
            engine, failing, transport=make_transport(failing), now=moment
        )
        moment += mail_queue.LONGEST_RETRY
    assert message(engine, message_id).status == MessageStatus.FAILED


def test_only_one_sender_claims_a_message(settings: Settings, engine: Engine) -> None:
    message_id = queue_plain(engine, "reader@example.com")
    claims: list[object] = []

    def claim() -> None:
        claims.append(mail_queue.claim_message(engine, settings, message_id, now=NOW))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(claim is not None for claim in claims) == 1
    # A sender that died holding it: the message is due again once the lease runs out.
    assert (
        mail_queue.send_pending_messages(
            engine, settings, transport=make_transport(settings), now=NOW + mail_queue.LEASE
        )
        == 1
    )


def test_a_held_message_never_sent_goes_out_after_its_lease(
    settings: Settings, engine: Engine
) -> None:
    """The process died between answering and sending: the retry loop picks the mail up."""
    queue_confirmation(engine, settings, "reader@example.com")
    assert (
        mail_queue.send_pending_messages(
            engine, settings, transport=make_transport(settings), now=NOW
        )
        == 0
    )  # still held
    assert (
        mail_queue.send_pending_messages(
            engine, settings, transport=make_transport(settings), now=NOW + mail_queue.LEASE
        )
        == 1
    )
    assert [m.to for m in outbox_mail(settings.outbox_dir)] == ["reader@example.com"]


def test_erased_or_confirmed_readers_get_no_stale_confirmation(
    settings: Settings, engine: Engine
) -> None:
    erased_id = queue_plain(engine, "erased@example.com")
    confirmed_id = queue_plain(engine, "quick@example.com")
    with session_scope(engine) as session:
        erased = subscriptions.find_by_email(session, "erased@example.com")
        quick = subscriptions.find_by_email(session, "quick@example.com")
        assert erased and quick and erased.id and quick.id
        privacy.erase_subscriber(session, erased.id, now=NOW)
        subscriptions.confirm_subscriber(session, quick.id, now=NOW)
    assert (
        mail_queue.send_pending_messages(
            engine, settings, transport=make_transport(settings), now=NOW
        )
        == 0
    )
    assert message(engine, erased_id).status == MessageStatus.CANCELLED
    assert message(engine, confirmed_id).status == MessageStatus.CANCELLED
    assert outbox_mail(settings.outbox_dir) == []


def test_signup_and_its_mail_commit_together(settings: Settings, engine: Engine) -> None:
    request = signup.SignupRequest(email="atomic@example.com", route=ConsentRoute.API)
    try:
        with session_scope(engine) as session:
            subscribe_now(session, settings, request, now=NOW)
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    with session_scope(engine, read_only=True) as session:
        assert subscriptions.find_by_email(session, "atomic@example.com") is None
        assert session.exec(select(TransactionalMessage)).all() == []


def test_manage_link_mail_carries_the_preferences_link(settings: Settings, engine: Engine) -> None:
    with session_scope(engine) as session:
        reader = subscriptions.add_subscriber(
            session, "r@example.com", confirmed=True, route=ConsentRoute.CLI, now=NOW
        )
        mail_queue.queue_message(session, reader, MessageKind.MANAGE, now=NOW)
    assert (
        mail_queue.send_pending_messages(
            engine, settings, transport=make_transport(settings), now=NOW
        )
        == 1
    )
    assert "/preferences/" in outbox_mail(settings.outbox_dir)[0].link("preferences")


def test_confirmations_from_two_databases_never_share_a_message_id(tmp_path: Path) -> None:
    """Staging and production send from one domain: same reader id, same instant, same secret."""
    found = []
    for name in ("staging", "production"):
        (tmp_path / name).mkdir()
        settings = make_test_settings(tmp_path / name, f"sqlite:///{tmp_path / name}/db.sqlite")
        engine = make_engine(settings.database_url)
        metadata.create_all(engine)
        message_id = queue_plain(engine, "reader@example.com")
        transport = make_transport(settings)
        mail_queue.deliver_message(engine, settings, message_id, transport=transport, now=NOW)
        engine.dispose()
        (mail,) = outbox_mail(settings.outbox_dir)
        found.append(mail.headers["Message-ID"])
    assert found[0] != found[1]


def test_held_messages_are_recorded_together_each_as_it_went(
    settings: Settings, engine: Engine
) -> None:
    """deliver_all_held records the sent ones in one statement, the others one by one: every
    row gets its own outcome, provider id and time."""
    held = [queue_confirmation(engine, settings, f"r{i}@example.com") for i in range(3)]
    with session_scope(engine) as session:
        gone = subscriptions.find_by_email(session, "r1@example.com")
        assert gone is not None and gone.id is not None
        subscriptions.confirm_subscriber(session, gone.id, now=NOW)
    held[1] = mail_queue.Held(held[1].message, gone)  # as read after it confirmed
    later = NOW + timedelta(seconds=5)
    transport = make_transport(settings)
    assert mail_queue.deliver_all_held(engine, settings, held, transport=transport, now=later) == 2
    rows = [message(engine, one.message.id or 0) for one in held]
    assert [row.status for row in rows] == [
        MessageStatus.SENT,
        MessageStatus.CANCELLED,
        MessageStatus.SENT,
    ]
    assert [row.sent_at for row in rows] == [later, None, later]
    assert (
        rows[0].provider_id and rows[2].provider_id and rows[0].provider_id != rows[2].provider_id
    )
    assert rows[1].provider_id is None and rows[1].last_error == mail_queue.NO_RECIPIENT
    assert [row.attempts for row in rows] == [1, 1, 1] and rows[0].last_error is None
    assert sorted(m.to for m in outbox_mail(settings.outbox_dir)) == [
        "r0@example.com",
        "r2@example.com",
    ]
