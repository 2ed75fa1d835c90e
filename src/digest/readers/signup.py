"""The public requests for a reader's mail (subscribe; "email me my link"), in two steps.

`receive_request` runs while the visitor waits and does only what is the same for every
address and needs no store but one write: validate, this process's count of the client, the
honeypot, the form stamp's signature and age, and store the request (`ReaderRequest`). Its
answer (`Receipt`) never depends on the address's state, and neither does the work behind it,
so the response time does not tell a new address from a confirmed one.

`process_requests` runs right after (and in the retry loops): the client's exact count, the
stamp's single use, the per-mailbox limit, the address's state, the consent record, the global
mail cap, and the mail itself. Whatever it decides, the visitor was told the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from digest import throttle
from digest.config import Settings
from digest.db import session_scope
from digest.models import (
    ConsentRoute,
    MessageKind,
    ReaderRequest,
    RequestKind,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
)
from digest.readers import defences, mail_queue, subscriptions, topics
from digest.readers.defences import StampCheck
from digest.transports import Transport

IP_WINDOW = timedelta(hours=1)
ADDRESS_WINDOW = timedelta(days=1)
# Stored requests acted on per transaction. On SQLite the web's signups wait while a batch
# holds the write lock (~2.5 ms of work per request): 50 caught up faster but tripled their
# p99; 4 instead of 10 took the p99 beside a working worker from ~65 to ~35 ms
# (docs/benchmarks.md).
ACT_BATCH = 4
_REQUESTS: Any = ReaderRequest.__table__  # type: ignore[attr-defined]
_DELETE_REQUEST = delete(_REQUESTS).where(_REQUESTS.c.id == bindparam("request_id"))
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignupRequest:
    email: str
    route: ConsentRoute
    name: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    honeypot: str | None = None
    form_stamp: str | None = None
    trusted: bool = False  # a server-side proxy holding the API token: no stamp, no honeypot
    topics: tuple[str, ...] = ()  # topic slugs; none ticked is every topic, new ones included
    click_consent: bool = False  # ticked "record which links I click" (unticked by default)


class Answer(StrEnum):
    ACCEPTED = "accepted"  # "if that address can receive mail, ..." (also when blocked)
    PRESS_AGAIN = "press again"  # too fast, or no usable stamp: the form again, press once more


@dataclass(frozen=True)
class Receipt:
    answer: Answer
    reason: str  # for logs and tests only: never shown to the visitor
    stamp: str | None = None  # PRESS_AGAIN: the stamp the form must carry next time
    wait_seconds: float = 0.0  # PRESS_AGAIN: how long until that stamp is old enough
    stored: bool = False  # the request waits for `process_requests`


STORED = Receipt(Answer.ACCEPTED, "stored", stored=True)


@dataclass(frozen=True)
class SignupResult:
    held: mail_queue.Held | None  # the mail to send at once, if any
    reason: str  # for logs and tests only

    @property
    def message_id(self) -> int | None:
        return self.held.message.id if self.held else None


def receive_request(
    session: Session,
    settings: Settings,
    request: SignupRequest,
    kind: RequestKind,
    *,
    now: datetime,
    local_limit: throttle.LocalLimit | None = None,
) -> Receipt:
    """Check and store one request (`check_request`, then `store_requests`)."""
    receipt, row = check_request(session, settings, request, kind, now=now, local_limit=local_limit)
    if row is not None:
        store_requests(session, [row])
    return receipt


def check_request(
    session: Session,
    settings: Settings,
    request: SignupRequest,
    kind: RequestKind,
    *,
    now: datetime,
    local_limit: throttle.LocalLimit | None = None,
) -> tuple[Receipt, dict[str, Any] | None]:
    """The answer to one request and, if it is to be stored, its row for `store_requests`;
    InvalidInput only for a malformed address or name, or an unknown topic (refused by name,
    before anything is counted). The chosen topics travel with the stored request."""
    choice = topics.choose(session, request.topics, every=not request.topics)
    return screen_request(settings, request, kind, choice, now=now, local_limit=local_limit)


def screen_request(
    settings: Settings,
    request: SignupRequest,
    kind: RequestKind,
    choice: topics.TopicChoice,
    *,
    now: datetime,
    local_limit: throttle.LocalLimit | None = None,
) -> tuple[Receipt, dict[str, Any] | None]:
    """`check_request` once the topics are known: no store at all (the web runs it on its
    event loop for a request without topics). Storing is the request's one write: the
    client's exact count and the stamp's single use are the store's, taken when the request
    is acted on (`act_on_request`). `local_limit`, the web process's own count per client,
    refuses a flood before it is stored."""
    address = subscriptions.normalise_email(request.email)
    subscribing = kind is RequestKind.SUBSCRIBE
    name = subscriptions.clean_name(request.name) if subscribing else None
    ip = throttle.valid_ip(request.ip)
    if local_limit is not None and not local_limit.allow(
        _client(ip), limit=settings.subscribe_ip_limit, now=now
    ):
        return Receipt(Answer.ACCEPTED, "ip rate limit"), None
    if not request.trusted:
        refused = _bot_check(settings, request, now=now)
        if refused is not None:
            return refused, None
    row = {
        "kind": kind.value,
        "email": address,
        "name": name,
        "topics": choice.encode() if subscribing else None,
        "click_consent": subscribing and request.click_consent,
        "route": request.route.value,
        "ip": ip,
        "user_agent": subscriptions.clean_user_agent(request.user_agent),
        "received_at": now,
        "form_stamp": None if request.trusted else request.form_stamp,
    }
    return STORED, row


def store_requests(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Store checked requests (`check_request`'s rows) with one plain executemany INSERT: no
    unit of work (nobody reads the rows back in this transaction), and on SQLite the write
    lock is held while visitors wait."""
    table: Any = ReaderRequest.__table__  # type: ignore[attr-defined]
    session.connection().execute(table.insert(), list(rows))


def _client(ip: str | None) -> str:
    """The rate-limit key of a client: its IPv4 address or its IPv6 /64."""
    return f"ip:{throttle.client_key(ip)}"


def _bot_check(settings: Settings, request: SignupRequest, *, now: datetime) -> Receipt | None:
    """The honeypot and the form stamp's signature and age; None when both pass."""
    if request.honeypot:
        return Receipt(Answer.ACCEPTED, "honeypot")
    verdict = defences.judge_stamp(settings, request.form_stamp, now=now)
    if verdict is StampCheck.EARLY:
        wait = defences.seconds_to_wait(settings, request.form_stamp, now=now)
        return Receipt(Answer.PRESS_AGAIN, "too fast", request.form_stamp, wait)
    if verdict is StampCheck.MISSING:
        fresh = defences.make_form_stamp(settings.secret, now=now)
        return Receipt(Answer.PRESS_AGAIN, "no usable stamp", fresh, settings.subscribe_min_seconds)
    return None


# -- acting on stored requests ---------------------------------------------------------------


def process_requests(
    engine: Engine, settings: Settings, *, transport: Transport, now: datetime
) -> int:
    """Act on every stored request, oldest first, up to ACT_BATCH of them per transaction (on
    SQLite one write lock for many, which the web's signups wait on); then send what they
    queued (the pending-mail loop retries what fails). Returns how many were acted on."""
    done = 0
    while True:
        with session_scope(engine) as session:
            requests = _take_requests(session, ACT_BATCH)
            results = [_act_or_drop(session, settings, request, now=now) for request in requests]
        acted = [result for result in results if result is not None]
        done += len(acted)
        _deliver(engine, settings, [r.held for r in acted if r.held], transport=transport, now=now)
        if len(requests) < ACT_BATCH:
            return done


def _take_requests(session: Session, limit: int) -> list[ReaderRequest]:
    """The oldest stored requests, locked for this transaction (PostgreSQL: others skip them)."""
    statement = (
        select(ReaderRequest)
        .order_by(col(ReaderRequest.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(statement).all())


def _act_or_drop(
    session: Session, settings: Settings, request: ReaderRequest, *, now: datetime
) -> SignupResult | None:
    """Act on one request within a savepoint; None if it could not be acted on: then it is
    logged and dropped, so it does not block the others."""
    request_id = request.id
    try:
        with session.begin_nested():
            return act_on_request(session, settings, request, now=now)
    except Exception:
        log.exception("reader request %s could not be acted on; dropped", request_id)
        session.execute(delete(ReaderRequest).where(col(ReaderRequest.id) == request_id))
        return None


def _deliver(
    engine: Engine,
    settings: Settings,
    held: list[mail_queue.Held],
    *,
    transport: Transport,
    now: datetime,
) -> None:
    if not held:
        return
    try:
        mail_queue.deliver_all_held(engine, settings, held, transport=transport, now=now)
    except Exception:
        log.exception("sending %d reader message(s) failed; they will be retried", len(held))


def act_on_request(
    session: Session, settings: Settings, request: ReaderRequest, *, now: datetime
) -> SignupResult:
    """Act on one stored request and delete it, in the caller's transaction. The client's
    count and the stamp come first: a request over its client's limit, or whose stamp was
    already spent (a replay), is dropped like one that was never stored."""
    # Core: the ORM's delete-and-flush cost several times the statement.
    session.connection().execute(_DELETE_REQUEST, {"request_id": request.id})
    if not throttle.allow(
        session,
        _client(request.ip),
        limit=settings.subscribe_ip_limit,
        window=IP_WINDOW,
        now=request.received_at,
    ):
        return SignupResult(None, "ip rate limit")
    if request.form_stamp is not None and not defences.spend_stamp(
        session, settings, request.form_stamp
    ):
        return SignupResult(None, "stamp already used")
    key = defences.mailbox_key(request.email)
    if not throttle.allow(
        session, key, limit=settings.subscribe_address_limit, window=ADDRESS_WINDOW, now=now
    ):
        return SignupResult(None, "mailbox rate limit")
    if RequestKind(request.kind) is RequestKind.MANAGE_LINK:
        return _manage_link(session, settings, request, now=now)
    return _subscribe(session, settings, request, now=now)


def _manage_link(
    session: Session, settings: Settings, request: ReaderRequest, *, now: datetime
) -> SignupResult:
    """Email a known reader the link to their settings."""
    subscriber = subscriptions.find_by_email(session, request.email)
    if subscriber is None or subscriber.email is None or subscriber.suppressed_at is not None:
        return SignupResult(None, "unknown, erased or suppressed")
    if not defences.may_mail_again(session, settings, subscriber, now=now):
        return SignupResult(None, "mail sent recently")
    if not defences.under_mail_cap(session, settings, now=now):
        return SignupResult(None, "hourly mail cap")
    message = mail_queue.queue_message(session, subscriber, MessageKind.MANAGE, now=now, hold=True)
    return SignupResult(mail_queue.Held(message, subscriber), "link queued")


def _subscribe(
    session: Session, settings: Settings, request: ReaderRequest, *, now: datetime
) -> SignupResult:
    subscriber = subscriptions.find_by_email(session, request.email)
    if subscriber is None:
        added = _insert(session, request, now=now)
        if added is not None:
            return _confirm(session, settings, added, now=now)
        subscriber = _added_meanwhile(session, request)
    if subscriber.suppressed_at is not None:
        return SignupResult(None, "suppressed")
    if subscriber.status == SubscriberStatus.CONFIRMED:
        return SignupResult(None, "already confirmed")
    _record_consent(subscriber, request)
    session.flush()
    if not defences.may_mail_again(session, settings, subscriber, now=now):
        return SignupResult(None, "confirmation sent recently")
    return _confirm(session, settings, subscriber, now=now)


def _confirm(
    session: Session, settings: Settings, subscriber: Subscriber, *, now: datetime
) -> SignupResult:
    """Queue the confirmation, under the hourly cap; `confirm_sent_at` is already `now`
    (`may_mail_again` or `_insert` wrote it)."""
    if not defences.under_mail_cap(session, settings, now=now):
        return SignupResult(None, "hourly mail cap")
    message = mail_queue.queue_message(session, subscriber, MessageKind.CONFIRM, now=now, hold=True)
    return SignupResult(mail_queue.Held(message, subscriber), "confirmation queued")


def _insert(session: Session, request: ReaderRequest, *, now: datetime) -> Subscriber | None:
    """A new PENDING reader, written once with what the checks after the state would write
    for it: the request's consent kept aside (`_record_consent`) and `confirm_sent_at` (no
    confirmation ever went to a new row, so `may_mail_again` would pass and write it). None if
    a concurrent request has just added the same address."""
    subscriber = subscriptions.new_subscriber(
        request.email,
        name=request.name,
        route=ConsentRoute(request.route),
        now=request.received_at,
        ip=request.ip,
        user_agent=request.user_agent,
    )
    _record_consent(subscriber, request)
    subscriber.confirm_sent_at = now
    return subscriptions.insert_new(session, subscriber)


def _added_meanwhile(session: Session, request: ReaderRequest) -> Subscriber:
    """The row a concurrent request added after `find_by_email` found none: it is acted on like
    any reader already on file."""
    existing = subscriptions.find_by_email(session, request.email)
    if existing is None:
        raise RuntimeError(f"{request.email!r} conflicted on insert but is not on file")
    return existing


def _record_consent(subscriber: Subscriber, request: ReaderRequest) -> None:
    """The latest request is the consent that a confirmation will seal (kept aside until then);
    an erased reader who subscribes again gets their address back (the hash matched)."""
    if subscriber.status == SubscriberStatus.ERASED:
        subscriber.email = request.email
        subscriber.status = SubscriberStatus.PENDING
        subscriber.confirmed_at = None
        # erased_at stays: if this signup is never confirmed, the purge turns the row back
        # into a tombstone instead of deleting the fingerprint with it.
    # Nobody has proven they own the mailbox yet: the name, topics and consent wait for
    # POST /confirm (a request stored without topics asked for every topic).
    subscriber.pending_name = request.name
    subscriber.pending_topics = request.topics or topics.TopicChoice().encode()
    subscriber.pending_click_consent = request.click_consent
    subscriber.pending_consent_route = ConsentRoute(request.route)
    subscriber.pending_consent_at = request.received_at
    subscriber.pending_consent_ip = throttle.valid_ip(request.ip)
    subscriber.pending_consent_user_agent = subscriptions.clean_user_agent(request.user_agent)


def queue_confirmation(
    session: Session, subscriber: Subscriber, *, now: datetime, hold: bool = False
) -> TransactionalMessage:
    """Queue the double opt-in email in the caller's transaction and note when it went out
    (the resend limit counts from here). `hold`: see `mail_queue.Held`."""
    subscriber.confirm_sent_at = now
    session.add(subscriber)
    return mail_queue.queue_message(session, subscriber, MessageKind.CONFIRM, now=now, hold=hold)
