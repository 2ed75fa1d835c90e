"""The public subscribe request: validate, hold off bots and floods, record consent, queue the mail.

Whatever the address's state (new, pending, confirmed, unsubscribed, suppressed) and whether the
request was blocked, the caller gets no hint of it: `request_subscription` returns the message to
send, if any, and the web edge answers every case with the same page after the same kind of work.
Sending happens after the answer, so the response time does not tell either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from digest import throttle
from digest.config import Settings
from digest.models import (
    ConsentRoute,
    MessageKind,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
)
from digest.readers import mail_queue, subscriptions, topics
from digest.readers.topics import TopicChoice

IP_WINDOW = timedelta(hours=1)
ADDRESS_WINDOW = timedelta(days=1)
FORM_MAX_AGE = timedelta(hours=24)
HONEYPOT_FIELD = "website"  # a field people never see and bots love to fill


@dataclass(frozen=True)
class SignupRequest:
    email: str
    route: ConsentRoute
    name: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    honeypot: str | None = None
    form_stamp: str | None = None  # required for the form route; JSON clients have no form
    topics: tuple[str, ...] = ()  # topic slugs; none ticked is every topic, new ones included


@dataclass(frozen=True)
class SignupResult:
    held: mail_queue.Held | None  # the mail to send after answering, if any
    reason: str  # for logs and tests only: never shown to the visitor

    @property
    def message_id(self) -> int | None:
        return self.held.message.id if self.held else None


def make_form_stamp(secret: str, *, now: datetime) -> str:
    """A signed "this form was served at" stamp for the hidden field of the subscribe form."""
    return _stamps(secret).dumps(int(now.timestamp() * 1000))


def form_age_ok(settings: Settings, stamp: str | None, *, now: datetime) -> bool:
    """True if the stamp is ours and the form was filled slower than a bot, within a day."""
    if not stamp or len(stamp) > 100:
        return False
    try:
        served_ms = _stamps(settings.secret).loads(stamp)
    except BadSignature:
        return False
    if not isinstance(served_ms, int) or isinstance(served_ms, bool):
        return False
    age = now.timestamp() - served_ms / 1000
    return settings.subscribe_min_seconds <= age <= FORM_MAX_AGE.total_seconds()


def _stamps(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="digest.form")


def request_subscription(
    session: Session, settings: Settings, request: SignupRequest, *, now: datetime
) -> SignupResult:
    """Act on one subscribe request. InvalidInput only for a malformed address or name."""
    address = subscriptions.normalise_email(request.email)
    name = subscriptions.clean_name(request.name)
    choice = topics.choose(session, request.topics, every=not request.topics)
    blocked = _guard(session, settings, request, address, now=now)
    if blocked:
        return SignupResult(None, blocked)
    return _record_and_confirm(session, settings, request, address, name, choice, now=now)


def request_manage_link(
    session: Session, settings: Settings, request: SignupRequest, *, now: datetime
) -> SignupResult:
    """Email a known reader the link to their settings; the same calm answer for anyone else."""
    address = subscriptions.normalise_email(request.email)
    blocked = _guard(session, settings, request, address, now=now)
    if blocked:
        return SignupResult(None, blocked)
    subscriber = subscriptions.find_by_email(session, address)
    if subscriber is None or subscriber.email is None or subscriber.suppressed_at is not None:
        return SignupResult(None, "unknown, erased or suppressed")
    if not _may_send_mail(session, settings, subscriber, now=now):
        return SignupResult(None, "mail sent recently")
    message = mail_queue.queue_message(session, subscriber, MessageKind.MANAGE, now=now, hold=True)
    return SignupResult(mail_queue.Held(message, subscriber), "link queued")


def _guard(
    session: Session, settings: Settings, request: SignupRequest, address: str, *, now: datetime
) -> str | None:
    """Why this request is refused (honeypot, too fast, too many), or None to go ahead."""
    ip_key = f"ip:{(request.ip or 'unknown')[:64]}"
    if not throttle.allow(
        session, ip_key, limit=settings.subscribe_ip_limit, window=IP_WINDOW, now=now
    ):
        return "ip rate limit"
    if request.honeypot:
        return "honeypot"
    if request.route is ConsentRoute.FORM and not form_age_ok(
        settings, request.form_stamp, now=now
    ):
        return "form stamp missing, forged, too fast or too old"
    address_key = f"addr:{subscriptions.email_hash(address)}"
    if not throttle.allow(
        session, address_key, limit=settings.subscribe_address_limit, window=ADDRESS_WINDOW, now=now
    ):
        return "address rate limit"
    return None


def _record_and_confirm(
    session: Session,
    settings: Settings,
    request: SignupRequest,
    address: str,
    name: str | None,
    choice: TopicChoice,
    *,
    now: datetime,
) -> SignupResult:
    subscriber = subscriptions.find_by_email(session, address) or _insert(
        session, request, address, name, now=now
    )
    if subscriber.suppressed_at is not None:
        return SignupResult(None, "suppressed")
    if subscriber.status == SubscriberStatus.CONFIRMED:
        return SignupResult(None, "already confirmed")
    _record_consent(session, subscriber, request, address, name, choice, now=now)
    if not _may_send_mail(session, settings, subscriber, now=now):
        return SignupResult(None, "confirmation sent recently")
    message = queue_confirmation(session, subscriber, now=now, hold=True)
    return SignupResult(mail_queue.Held(message, subscriber), "confirmation queued")


def _insert(
    session: Session, request: SignupRequest, address: str, name: str | None, *, now: datetime
) -> Subscriber:
    """A new PENDING reader; if a concurrent request just added the same address, that one."""
    try:
        with session.begin_nested():
            return subscriptions.add_subscriber(
                session,
                address,
                name=name,
                route=request.route,
                now=now,
                ip=request.ip,
                user_agent=request.user_agent,
            )
    except IntegrityError:
        existing = subscriptions.find_by_email(session, address)
        if existing is None:
            raise
        return existing


def _record_consent(
    session: Session,
    subscriber: Subscriber,
    request: SignupRequest,
    address: str,
    name: str | None,
    choice: TopicChoice,
    *,
    now: datetime,
) -> None:
    """The latest request is the consent that a confirmation will seal (kept aside until then);
    an erased reader who subscribes again gets their address back (the hash matched)."""
    if subscriber.status == SubscriberStatus.ERASED:
        subscriber.email = address
        subscriber.status = SubscriberStatus.PENDING
        subscriber.confirmed_at = None
        # erased_at stays: if this signup is never confirmed, the purge turns the row back
        # into a tombstone instead of deleting the fingerprint with it.
    # Nobody has proven they own the mailbox yet: the name and consent wait for POST /confirm.
    subscriber.pending_name = name
    subscriber.pending_topics = choice.encode()
    subscriber.pending_consent_route = request.route
    subscriber.pending_consent_at = now
    subscriber.pending_consent_ip = (request.ip or None) and request.ip[:64]
    subscriber.pending_consent_user_agent = subscriptions.clean_user_agent(request.user_agent)
    session.add(subscriber)
    session.flush()


def _may_send_mail(
    session: Session, settings: Settings, subscriber: Subscriber, *, now: datetime
) -> bool:
    """At most one confirmation per address per DIGEST_CONFIRM_RESEND_MINUTES, decided by one
    conditional UPDATE so that concurrent requests cannot both pass."""
    quiet_since = now - timedelta(minutes=settings.confirm_resend_minutes)
    result: Any = session.execute(
        update(Subscriber)
        .where(
            col(Subscriber.id) == subscriber.id,
            or_(
                col(Subscriber.confirm_sent_at).is_(None),
                col(Subscriber.confirm_sent_at) <= quiet_since,
            ),
        )
        .values(confirm_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


def queue_confirmation(
    session: Session, subscriber: Subscriber, *, now: datetime, hold: bool = False
) -> TransactionalMessage:
    """Queue the double opt-in email in the caller's transaction and note when it went out
    (the resend limit counts from here). `hold`: see `mail_queue.Held`."""
    subscriber.confirm_sent_at = now
    session.add(subscriber)
    return mail_queue.queue_message(session, subscriber, MessageKind.CONFIRM, now=now, hold=hold)
