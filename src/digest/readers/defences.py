"""Bot defences for the requests anyone can make (subscribe, "email me my link"): the honeypot,
the signed "form served at" stamp, the canonical mailbox that per-address limits count, and the
hourly cap on all the mail such requests can cause, and the quiet time between two
confirmations to one address.

A stamp is signed (forged ones never verify), carries the moment the form was served and a
random nonce, and is good once. The request only judges it (`judge_stamp`: no store, so the
visitor's request writes nothing but itself); the stamp is spent when the stored request is
acted on (`spend_stamp`, `throttle.first_use`), so a replay within its day is stored and then
dropped, never acted on. A request refused for a typo or for being too fast is not stored and
leaves the stamp usable, so a person who fixes the address and presses again is not punished.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from digest import throttle
from digest.config import Settings
from digest.models import Subscriber

FORM_MAX_AGE = timedelta(hours=24)
HONEYPOT_FIELD = "website"  # a field people never see and bots love to fill
MAX_STAMP_LENGTH = 120
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
MAIL_CAP_WINDOW = timedelta(hours=1)
MAIL_CAP_KEY = "mail:all-public-requests"
log = logging.getLogger(__name__)


class StampCheck(StrEnum):
    GOOD = "good"  # authentic, old enough, fresh enough (spent when the request is acted on)
    MISSING = "missing"  # absent, forged or older than a day: serve a fresh one
    EARLY = "early"  # sooner than DIGEST_SUBSCRIBE_MIN_SECONDS: the same one, a moment later


@dataclass(frozen=True)
class Stamp:
    served: datetime
    nonce: str


def make_form_stamp(secret: str, *, now: datetime) -> str:
    """A signed "this form was served at" stamp for the hidden field of a form."""
    return _stamps(secret).dumps([int(now.timestamp() * 1000), secrets.token_urlsafe(12)])


def read_stamp(secret: str, raw: str | None) -> Stamp | None:
    """The stamp, if it is one of ours (whatever its age); None if absent or forged."""
    if not raw or len(raw) > MAX_STAMP_LENGTH:
        return None
    try:
        payload = _stamps(secret).loads(raw)
    except BadSignature:
        return None
    if not (isinstance(payload, list) and len(payload) == 2):
        return None
    served_ms, nonce = payload
    if not isinstance(served_ms, int) or isinstance(served_ms, bool) or not isinstance(nonce, str):
        return None
    try:
        served = datetime.fromtimestamp(served_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return Stamp(served, nonce)


def judge_stamp(settings: Settings, raw: str | None, *, now: datetime) -> StampCheck:
    """GOOD, MISSING or EARLY by the stamp alone; whether it was spent is the store's to say
    (`spend_stamp`, when the request is acted on)."""
    stamp = read_stamp(settings.secret, raw)
    if stamp is None or now - stamp.served > FORM_MAX_AGE:
        return StampCheck.MISSING
    if (now - stamp.served).total_seconds() < settings.subscribe_min_seconds:
        return StampCheck.EARLY
    return StampCheck.GOOD


def spend_stamp(session: Session, settings: Settings, raw: str) -> bool:
    """Spend a stamp `judge_stamp` found GOOD (in the caller's transaction): True the first
    time, False for a replay (and for a stamp that is not ours, which a request never stores)."""
    stamp = read_stamp(settings.secret, raw)
    if stamp is None:
        return False
    return throttle.first_use(session, f"stamp:{stamp.nonce}", issued=stamp.served)


def stamp_unspent(
    session: Session, settings: Settings, raw: str, *, now: datetime, left: timedelta
) -> bool:
    """Whether a stamp served earlier would still be GOOD (or EARLY) for at least `left`
    more: ours, young enough, never accepted. For a page whose cached copy carries it."""
    stamp = read_stamp(settings.secret, raw)
    if stamp is None or now - stamp.served > FORM_MAX_AGE - left:
        return False
    return not throttle.was_used(session, f"stamp:{stamp.nonce}", issued=stamp.served)


def seconds_to_wait(settings: Settings, raw: str | None, *, now: datetime) -> float:
    """How long until an EARLY stamp is old enough (0 for any other)."""
    stamp = read_stamp(settings.secret, raw)
    if stamp is None:
        return 0.0
    return max(0.0, settings.subscribe_min_seconds - (now - stamp.served).total_seconds())


def _stamps(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="digest.form")


def canonical_mailbox(address: str) -> str:
    """The one inbox an address reaches: case folded, `+tag` dropped (every domain), and for
    Gmail the dots dropped and googlemail.com read as gmail.com. For counting only: what is
    stored and mailed stays what the reader typed."""
    local, _, domain = address.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def mailbox_key(address: str) -> str:
    """The rate-limit key of the mailbox an address reaches (a hash: no address in the store)."""
    return "mailbox:" + hashlib.sha256(canonical_mailbox(address).encode()).hexdigest()


def under_mail_cap(session: Session, settings: Settings, *, now: datetime) -> bool:
    """At most DIGEST_CONFIRM_HOURLY_LIMIT emails an hour that anonymous requests can cause,
    all addresses together: no number of addresses or clients makes us a mail cannon."""
    allowed = throttle.allow(
        session, MAIL_CAP_KEY, limit=settings.confirm_hourly_limit, window=MAIL_CAP_WINDOW, now=now
    )
    if not allowed:
        log.warning("DIGEST_CONFIRM_HOURLY_LIMIT reached: a requested email was not sent")
    return allowed


def may_mail_again(
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
    if result.rowcount != 1:
        return False
    # The row says so now; the object too, without writing it again at the next flush.
    set_committed_value(subscriber, "confirm_sent_at", now)
    return True
