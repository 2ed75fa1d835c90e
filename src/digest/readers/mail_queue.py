"""Transactional mail (confirmation, "your link"): stored with its cause, sent afterwards.

Nothing to do with issues: those go through `delivery/`. This is the readers' own mail.

`queue_message` writes a row in the caller's transaction, so a signup and its confirmation email
commit together or not at all. `deliver_message` sends one (right after the request, best
effort); `send_pending_messages` sends whatever is due (the scheduler and `digest serve` call it),
so a transport hiccup delays a message but never loses it.

Each send first claims the row with a conditional UPDATE that pushes `next_attempt_at` a lease
ahead, so two senders never both send it; a sender that dies mid-send leaves a row that becomes
due again when the lease runs out, and the retry carries the same idempotency key.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from digest.config import Settings
from digest.db import attach_stored, row_values, session_scope
from digest.errors import TransportError
from digest.models import MessageKind, MessageStatus, Subscriber, TransactionalMessage
from digest.readers import mail_compose
from digest.transports import OutgoingEmail, SendResult, Transport

LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=2)
BATCH = 100
NO_RECIPIENT = "no recipient"
_MESSAGES: Any = TransactionalMessage.__table__  # type: ignore[attr-defined]
_INSERT_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
# `_record` for a sent message, per message id (executemany: `_record_sent`).
_MARK_SENT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("message_id"))
    .values(
        status=MessageStatus.SENT,
        sent_at=bindparam("sent_at", type_=_MESSAGES.c.sent_at.type),
        provider_id=bindparam("provider_id", type_=_MESSAGES.c.provider_id.type),
    )
)


@dataclass(frozen=True)
class Claimed:
    message_id: int
    email: OutgoingEmail | None  # None: nobody to send to any more; cancel it
    attempts: int


@dataclass(frozen=True)
class Held:
    """A message its creator holds for one lease, to send as soon as its transaction commits
    (no second claim needed); if that send never happens, the lease runs out and the retry
    loop sends it."""

    message: TransactionalMessage
    subscriber: Subscriber


def queue_message(
    session: Session,
    subscriber: Subscriber,
    kind: MessageKind,
    *,
    now: datetime,
    hold: bool = False,
    issue_id: int | None = None,
    next_issue_at: datetime | None = None,
) -> TransactionalMessage:
    """A pending message to `subscriber`, written in the caller's transaction; `hold` claims it
    for the caller at once (see `Held`); `issue_id` and `next_issue_at`: the issue a welcome
    carries and when the next one goes out."""
    assert subscriber.id is not None
    # Random enough to be unique across databases: the Message-ID derives from it (base.py).
    reference = f"{kind.value}-s{subscriber.id}-{int(now.timestamp())}-{secrets.token_hex(8)}"
    message = TransactionalMessage(
        reference=reference,
        subscriber_id=subscriber.id,
        kind=kind,
        status=MessageStatus.PENDING,
        attempts=1 if hold else 0,
        next_attempt_at=now + LEASE if hold else now,
        created_at=now,
        issue_id=issue_id,
        next_issue_at=next_issue_at,
    )
    # Core, not a flush: every signup queues one (db.attach_stored).
    stored = session.connection().execute(_INSERT_MESSAGE, row_values(message)).scalar_one()
    return attach_stored(session, message, stored)


def deliver_held(
    engine: Engine, settings: Settings, held: Held, *, transport: Transport, now: datetime
) -> bool:
    """Send a message created with `hold=True`, after its transaction committed."""
    return deliver_all_held(engine, settings, [held], transport=transport, now=now) == 1


def deliver_all_held(
    engine: Engine,
    settings: Settings,
    held: Sequence[Held],
    *,
    transport: Transport,
    now: datetime,
) -> int:
    """Send messages created with `hold=True` (each with its own idempotency key), then record
    every result in one transaction: one write, not one per message. Returns how many the
    transport accepted. A crash before the record leaves them held; the lease runs out and the
    retry sends each again under the same key."""
    outcomes = [
        (claimed, _send(transport, claimed.email))
        for claimed in _compose_held(engine, settings, held)
    ]
    sent = [(claimed, result) for claimed, result in outcomes if _sent(claimed, result)]
    with session_scope(engine) as session:
        _record_sent(session, sent, now=now)
        return len(sent) + sum(
            _record(session, settings, claimed, result, now=now)
            for claimed, result in outcomes
            if not _sent(claimed, result)
        )


def _sent(claimed: Claimed, result: SendResult) -> bool:
    return claimed.email is not None and result.ok


def _record_sent(
    session: Session, sent: Sequence[tuple[Claimed, SendResult]], *, now: datetime
) -> None:
    """What `_record` stores for each sent message, in one executemany UPDATE: the common case
    of a batch, where one statement per message cost more than the send to the outbox."""
    if not sent:
        return
    session.connection().execute(
        _MARK_SENT,
        [
            {"message_id": claimed.message_id, "provider_id": result.provider_id, "sent_at": now}
            for claimed, result in sent
        ],
    )


def _compose_held(engine: Engine, settings: Settings, held: Sequence[Held]) -> list[Claimed]:
    composed = []
    for one in held:
        assert one.message.id is not None
        welcome = None
        if one.message.kind == MessageKind.WELCOME:
            with session_scope(engine, read_only=True) as session:
                welcome = mail_compose.load_welcome(session, one.message, one.subscriber)
        email = mail_compose.compose(settings, one.message, one.subscriber, welcome)
        composed.append(Claimed(one.message.id, email, one.message.attempts))
    return composed


def cancel_messages(session: Session, subscriber_id: int) -> None:
    """Drop unsent mail to a reader who is going away (erased, suppressed)."""
    session.execute(
        update(TransactionalMessage)
        .where(
            col(TransactionalMessage.subscriber_id) == subscriber_id,
            col(TransactionalMessage.status) == MessageStatus.PENDING,
        )
        .values(status=MessageStatus.CANCELLED)
    )


def send_pending_messages(
    engine: Engine, settings: Settings, *, transport: Transport, now: datetime
) -> int:
    """Send every message that is due; return how many the transport accepted."""
    with session_scope(engine, read_only=True) as session:
        due = session.exec(
            select(TransactionalMessage.id)
            .where(
                col(TransactionalMessage.status) == MessageStatus.PENDING,
                col(TransactionalMessage.next_attempt_at) <= now,
            )
            .order_by(col(TransactionalMessage.next_attempt_at))
            .limit(BATCH)
        ).all()
    return sum(
        deliver_message(engine, settings, message_id, transport=transport, now=now)
        for message_id in due
        if message_id is not None
    )


def deliver_message(
    engine: Engine,
    settings: Settings,
    message_id: int,
    *,
    transport: Transport,
    now: datetime,
) -> bool:
    """Send one message if it is due and nobody else holds it; True if the transport took it."""
    claimed = claim_message(engine, settings, message_id, now=now)
    if claimed is None:
        return False
    result = _send(transport, claimed.email)
    return record_result(engine, settings, claimed, result, now=now)


def claim_message(
    engine: Engine, settings: Settings, message_id: int, *, now: datetime
) -> Claimed | None:
    """Take the message for one lease; render it; None if it is not due or someone holds it."""
    with session_scope(engine) as session:
        taken: Any = session.execute(
            update(TransactionalMessage)
            .where(
                col(TransactionalMessage.id) == message_id,
                col(TransactionalMessage.status) == MessageStatus.PENDING,
                col(TransactionalMessage.next_attempt_at) <= now,
            )
            .values(
                attempts=col(TransactionalMessage.attempts) + 1,
                next_attempt_at=now + LEASE,
            )
        )
        if taken.rowcount != 1:
            return None
        message = session.get(TransactionalMessage, message_id)
        subscriber = session.get(Subscriber, message.subscriber_id) if message else None
        welcome = (
            mail_compose.load_welcome(session, message, subscriber)
            if message and subscriber and message.kind == MessageKind.WELCOME
            else None
        )
    if message is None:
        return None
    # Rendered after the claim commits: MJML takes milliseconds, a SQLite write lock should not.
    email = mail_compose.compose(settings, message, subscriber, welcome) if subscriber else None
    return Claimed(message_id, email, message.attempts)


def _send(transport: Transport, email: OutgoingEmail | None) -> SendResult:
    if email is None:  # nobody to send to any more (see Claimed): cancelled when recorded
        return SendResult("", error=NO_RECIPIENT, permanent=True)
    try:
        return transport.send_batch([email], idempotency_key=f"msg-{email.reference}")[0]
    except TransportError as exc:
        return SendResult(email.reference, error=exc.message, permanent=not exc.retryable)


def record_result(
    engine: Engine, settings: Settings, claimed: Claimed, result: SendResult, *, now: datetime
) -> bool:
    with session_scope(engine) as session:
        return _record(session, settings, claimed, result, now=now)


def _record(
    session: Session, settings: Settings, claimed: Claimed, result: SendResult, *, now: datetime
) -> bool:
    """Store how a send went, in the caller's transaction; True if the transport took it."""
    message_id = claimed.message_id
    if claimed.email is None:
        _finish(session, message_id, status=MessageStatus.CANCELLED, error=NO_RECIPIENT)
        return False
    if result.ok:
        _finish(
            session,
            message_id,
            status=MessageStatus.SENT,
            sent_at=now,
            provider_id=result.provider_id,
        )
        return True
    if result.permanent or claimed.attempts >= settings.message_max_attempts:
        _finish(session, message_id, status=MessageStatus.FAILED, error=result.error)
        return False
    delay = min(FIRST_RETRY * 2 ** (claimed.attempts - 1), LONGEST_RETRY)
    _finish(
        session,
        message_id,
        status=MessageStatus.PENDING,
        error=result.error,
        next_attempt_at=now + delay,
    )
    return False


def _finish(session: Session, message_id: int, *, status: MessageStatus, **values: Any) -> None:
    if "error" in values:
        values["last_error"] = (values.pop("error") or "")[:1000] or None
    session.execute(
        update(TransactionalMessage)
        .where(col(TransactionalMessage.id) == message_id)
        .values(status=status, **values)
    )
