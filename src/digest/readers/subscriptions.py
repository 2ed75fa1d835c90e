"""Readers in the store: add, confirm, unsubscribe, resubscribe, rename, export, erase, suppress.

Every function takes the session and `now`; none commits (the caller's transaction decides).
Addresses are compared by their normalised form and by a one-way hash that outlives erasure, so
an erased or suppressed address is never mailed again by a stale import.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from digest import tokens
from digest.db import attach_stored, row_values
from digest.errors import Conflict, InvalidInput, NotFound
from digest.models import ConsentRoute, Subscriber, SubscriberStatus
from digest.readers import topics
from digest.readers.topics import TopicChoice
from digest.text import one_line

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100
MAX_USER_AGENT_LENGTH = 500
SUPPRESSED = frozenset(
    {SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED, SubscriberStatus.SUPPRESSED}
)
GONE = SUPPRESSED | {SubscriberStatus.ERASED}


def normalise_email(raw: str) -> str:
    """The address in the one form we store and compare; InvalidInput says what is wrong."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("email", [("email", "enter an email address")])
    if len(text) > MAX_EMAIL_LENGTH:
        raise InvalidInput("email", [("email", "that address is too long")])
    local = text.rpartition("@")[0]
    if not local.isascii():
        # Our transports cannot carry a non-ASCII mailbox name (SMTPUTF8); it would be mangled.
        problem = "use an address with only ASCII letters before the @ (the domain may be any)"
        raise InvalidInput("email", [("email", problem)])
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidInput("email", [("email", str(exc))]) from None
    # The local part is case-sensitive in theory only; every provider readers use ignores case,
    # and treating Ann@ and ann@ as two readers would let one person subscribe twice.
    return result.normalized.lower()


def email_hash(email: str) -> str:
    """One-way sha256 hex of the normalised address; it is all that is left after erasure."""
    return _hash_normalised(normalise_email(email))


def _hash_normalised(address: str) -> str:
    """`email_hash` of an address `normalise_email` gave (validating it again costs more)."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


def clean_name(raw: str | None) -> str | None:
    """A display name on one line (any space, NBSP or ZWSP becomes one space, controls go),
    at most 100 characters; None if empty."""
    if raw is None:
        return None
    text = one_line(raw)
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidInput("name", [("name", f"at most {MAX_NAME_LENGTH} characters")])
    return text or None


def clean_user_agent(raw: str | None) -> str | None:
    if not raw:
        return None
    return "".join(ch for ch in raw if ch.isprintable())[:MAX_USER_AGENT_LENGTH] or None


def find_by_email(session: Session, email: str) -> Subscriber | None:
    """The reader with this address (by hash, so erased ones are found too), or None."""
    found: Subscriber | None = session.scalars(_BY_HASH, {"digest": email_hash(email)}).first()
    return found


# Built once: every signup looks its address up.
_BY_HASH = select(Subscriber).where(col(Subscriber.email_hash) == bindparam("digest"))


def get_subscriber(session: Session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(f"no subscriber with id {subscriber_id}")
    return subscriber


def subscriber_for_link(
    session: Session,
    *,
    secret: str,
    purpose: tokens.Purpose,
    token: str,
    max_age: timedelta | None,
    now: datetime,
) -> Subscriber:
    """The reader a link's token names, only if the token is valid and its address tag is this
    row's: TokenError for a forged, expired or misused token, NotFound for nobody."""
    subscriber_id, tag = tokens.read_token(secret, purpose, token, now=now, max_age=max_age)
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or not tokens.tag_matches(tag, subscriber.email_hash):
        raise NotFound(f"no subscriber with id {subscriber_id}")
    return subscriber


def add_subscriber(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    confirmed: bool = False,
    route: ConsentRoute,
    now: datetime,
    ip: str | None = None,
    user_agent: str | None = None,
) -> Subscriber:
    """A new reader, PENDING (or CONFIRMED when the operator vouches for it). Conflict if known."""
    address = normalise_email(email)
    existing = find_by_email(session, address)
    if existing is not None:
        raise Conflict(_known_message(address, existing.status))
    subscriber = new_subscriber(
        address, name=name, confirmed=confirmed, route=route, now=now, ip=ip, user_agent=user_agent
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def new_subscriber(
    email: str,
    *,
    name: str | None = None,
    confirmed: bool = False,
    route: ConsentRoute,
    now: datetime,
    ip: str | None = None,
    user_agent: str | None = None,
) -> Subscriber:
    """The row `add_subscriber` writes, not yet in any session (`insert_new` writes it)."""
    address = normalise_email(email)
    return Subscriber(
        email=address,
        email_hash=_hash_normalised(address),
        name=clean_name(name),
        status=SubscriberStatus.CONFIRMED if confirmed else SubscriberStatus.PENDING,
        created_at=now,
        confirmed_at=now if confirmed else None,
        consent_route=route,
        consent_at=now,
        consent_ip=(ip or None) and ip[:64],
        consent_user_agent=clean_user_agent(user_agent),
    )


def insert_new(session: Session, subscriber: Subscriber) -> Subscriber | None:
    """Write a `new_subscriber` row in one statement and return it, now in the session, or None
    if its address is already on file: a concurrent request may have just added it, and ON
    CONFLICT DO NOTHING leaves the transaction usable without a savepoint around it."""
    statement = _insert_new(session.get_bind().dialect.name)
    stored = session.connection().execute(statement, row_values(subscriber)).scalar_one_or_none()
    return None if stored is None else attach_stored(session, subscriber, stored)


@lru_cache(maxsize=4)
def _insert_new(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id for `dialect`, built once."""
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = Subscriber.__table__  # type: ignore[attr-defined]
    return insert(table).on_conflict_do_nothing().returning(table.c.id)


def _known_message(address: str, stored: str) -> str:
    status = SubscriberStatus(stored)  # the column gives back plain strings
    if status is SubscriberStatus.ERASED:
        return f"{address} asked to be erased; it will not be added again"
    if status in SUPPRESSED:
        return f"{address} is suppressed ({status.value}); it will not be added again"
    return f"{address} is already on the list ({status.value})"


def is_mailable(subscriber: Subscriber) -> bool:
    """Only confirmed readers get issues."""
    return subscriber.status == SubscriberStatus.CONFIRMED and subscriber.email is not None


def purge_unconfirmed(session: Session, *, now: datetime, older_than: timedelta) -> int:
    """Delete signups that were never confirmed and last asked before `now - older_than`."""
    stale = (
        col(Subscriber.status) == SubscriberStatus.PENDING,
        col(Subscriber.confirmed_at).is_(None),
        func.coalesce(Subscriber.pending_consent_at, Subscriber.consent_at, Subscriber.created_at)
        < now - older_than,
    )
    marked = or_(col(Subscriber.erased_at).is_not(None), col(Subscriber.suppressed_at).is_not(None))
    # A once-erased (or suppressed) address keeps its fingerprint: back to a tombstone, not gone.
    tombstones: Any = session.execute(
        update(Subscriber)
        .where(*stale, marked)
        .values(
            status=SubscriberStatus.ERASED,
            email=None,
            name=None,
            consent_ip=None,
            consent_user_agent=None,
            pending_name=None,
            pending_consent_ip=None,
            pending_consent_user_agent=None,
            erased_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    deleted: Any = session.execute(delete(Subscriber).where(*stale, ~marked))
    return int(deleted.rowcount or 0) + int(tombstones.rowcount or 0)


def confirm_subscriber(session: Session, subscriber_id: int, *, now: datetime) -> Subscriber:
    """PENDING or UNSUBSCRIBED -> CONFIRMED; confirming again changes nothing.

    The row is locked first (PostgreSQL; SQLite writers are serial), so of two confirmations
    racing, the second sees the first's CONFIRMED and changes nothing."""
    lock_subscriber(session, subscriber_id)
    subscriber = _reachable(session, subscriber_id)
    if subscriber.status == SubscriberStatus.CONFIRMED:
        return subscriber
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None
    subscriber.erased_at = None  # the owner is back, proven: no longer a tombstone-to-be
    _apply_pending_consent(session, subscriber)
    session.add(subscriber)
    return subscriber


def lock_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    """The reader's row, locked for this transaction and read afresh (PostgreSQL waits here for
    a concurrent change to commit; SQLite writers are serial already). FOR NO KEY UPDATE: it
    does not wait for an enqueue chunk whose deliveries reference the reader (their foreign-key
    checks hold a key-share lock until the chunk commits)."""
    query = (
        select(Subscriber)
        .where(col(Subscriber.id) == subscriber_id)
        .with_for_update(key_share=True)
    )
    return session.exec(query.execution_options(populate_existing=True)).first()


def _apply_pending_consent(session: Session, subscriber: Subscriber) -> None:
    """The mailbox owner just confirmed: the request they confirmed becomes the record."""
    topics.apply_pending_topics(session, subscriber)
    if subscriber.pending_consent_at is None:
        return
    subscriber.name = subscriber.pending_name or subscriber.name
    subscriber.consent_route = subscriber.pending_consent_route or subscriber.consent_route
    subscriber.consent_at = subscriber.pending_consent_at
    subscriber.consent_ip = subscriber.pending_consent_ip
    subscriber.consent_user_agent = subscriber.pending_consent_user_agent
    if subscriber.pending_click_consent:  # ticked on the form; unticking is on preferences
        subscriber.click_consent_at = subscriber.pending_consent_at
    clear_pending_consent(subscriber)


def clear_pending_consent(subscriber: Subscriber) -> None:
    subscriber.pending_name = subscriber.pending_consent_route = None
    subscriber.pending_consent_at = None
    subscriber.pending_consent_ip = subscriber.pending_consent_user_agent = None
    subscriber.pending_topics = None
    subscriber.pending_click_consent = False


def unsubscribe_subscriber(session: Session, subscriber_id: int, *, now: datetime) -> Subscriber:
    """Stop mail at once; a second request, or one for a suppressed reader, changes nothing."""
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED):
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = now
        session.add(subscriber)
    return subscriber


def resubscribe_subscriber(session: Session, subscriber_id: int, *, now: datetime) -> Subscriber:
    """Undo an unsubscribe. The link came from the reader's own mailbox: no new opt-in needed,
    unless they never confirmed in the first place."""
    subscriber = _reachable(session, subscriber_id)
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        return subscriber
    if subscriber.confirmed_at is None:
        raise Conflict("this address was never confirmed; subscribe again from the front page")
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.unsubscribed_at = None
    session.add(subscriber)
    return subscriber


def rename_subscriber(session: Session, subscriber_id: int, *, name: str | None) -> Subscriber:
    subscriber = _reachable(session, subscriber_id)
    subscriber.name = clean_name(name)
    session.add(subscriber)
    return subscriber


def change_topics(session: Session, subscriber_id: int, *, choice: TopicChoice) -> Subscriber:
    """The preferences page: every topic, or only the ones the reader ticked."""
    subscriber = _reachable(session, subscriber_id)
    topics.store_choice(session, subscriber_id, choice)
    return subscriber


def suppress_subscriber(
    session: Session, subscriber_id: int, *, status: SubscriberStatus, now: datetime
) -> Subscriber:
    """A hard bounce or a complaint: never mail this address again, whatever happens later."""
    if status not in SUPPRESSED:
        raise ValueError(f"{status} is not a suppression")
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber.suppressed_at is None:
        subscriber.suppressed_at = now
    if subscriber.status != SubscriberStatus.ERASED:
        subscriber.status = status
    session.add(subscriber)
    return subscriber


def _reachable(session: Session, subscriber_id: int) -> Subscriber:
    """The reader, if we may still act for them: Conflict once erased or suppressed."""
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber.status == SubscriberStatus.ERASED:
        raise Conflict("this subscription was erased; nothing is kept to act on")
    if subscriber.status in SUPPRESSED:
        raise Conflict("mail to this address bounced or was marked as spam, so it is switched off")
    return subscriber


def list_subscribers(
    session: Session, *, status: SubscriberStatus | None = None
) -> list[Subscriber]:
    statement = select(Subscriber).order_by(col(Subscriber.id))
    if status is not None:
        statement = statement.where(col(Subscriber.status) == status)
    return list(session.exec(statement).all())
