"""Readers for the desk: search a page at a time, and one reader's whole record.

Pages go newest first by id and continue from a cursor (the last id shown): keyset
pagination, so page 2,000 costs what page 1 costs, and a reader added meanwhile does not
shift the pages. A search matches the start of the address or of the name, case-insensitively
(a prefix is an index range; "anywhere in" would read all 100,000 readers every time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from digest.errors import InvalidInput, NotFound
from digest.models import (
    Delivery,
    DeliveryMark,
    Issue,
    Subscriber,
    SubscriberStatus,
    WebhookEvent,
)

PAGE_SIZE = 50
MAX_QUERY = 200  # characters of a search: longer is no address or name we keep
MAX_CURSOR_DIGITS = 18  # an id beyond this is no id of ours (and would overflow BIGINT)
HISTORY_SHOWN = 200


class BadCursor(InvalidInput):
    """A page cursor or filter that no page of ours produced."""

    def __init__(self, problem: str) -> None:
        super().__init__("page", [("", problem)])


@dataclass(frozen=True)
class ReaderRow:
    id: int
    email: str | None
    name: str | None
    status: str
    created_at: datetime
    confirmed_at: datetime | None


@dataclass(frozen=True)
class ReaderPage:
    rows: list[ReaderRow]
    next_cursor: str | None  # pass back as `after` for the next page; None on the last one


def parse_cursor(raw: str | None) -> int | None:
    """The id a page continues after; BadCursor for anything we never hand out."""
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_CURSOR_DIGITS:
        raise BadCursor("that page link is not valid; start again from the first page")
    return int(raw)


def parse_status(raw: str | None) -> SubscriberStatus | None:
    if raw is None or raw == "":
        return None
    try:
        return SubscriberStatus(raw)
    except ValueError:
        raise BadCursor(f"there is no reader status {raw[:40]!r}") from None


def search_readers(
    session: Session,
    *,
    query: str = "",
    status: SubscriberStatus | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> ReaderPage:
    # more than four columns: SQLAlchemy's select (SQLModel's overloads stop at four)
    statement = select_columns(
        col(Subscriber.id),
        col(Subscriber.email),
        col(Subscriber.name),
        col(Subscriber.status),
        col(Subscriber.created_at),
        col(Subscriber.confirmed_at),
    )
    if status is not None:
        statement = statement.where(col(Subscriber.status) == status)
    if after is not None:
        statement = statement.where(col(Subscriber.id) < after)
    text = query.strip()[:MAX_QUERY]
    if text:
        statement = statement.where(_matches(text))
    rows = session.execute(statement.order_by(col(Subscriber.id).desc()).limit(limit + 1)).all()
    readers = [
        ReaderRow(
            id=r[0] or 0,
            email=r[1],
            name=r[2],
            status=str(r[3]),
            created_at=r[4],
            confirmed_at=r[5],
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return ReaderPage(rows=readers, next_cursor=str(readers[-1].id) if more else None)


def _matches(text: str) -> Any:
    """The start of the address or of the name, whatever the case. Each is a range on an
    index (the address's, and one on lower(name)), so a search reads only what matches
    instead of every reader; LIKE then checks the prefix exactly (% and _ match themselves)."""
    prefix = text.lower()
    pattern = _escape(prefix) + "%"
    after = prefix[:-1] + _next_char(prefix[-1])  # the first string past the prefix
    name = func.lower(col(Subscriber.name))
    return or_(
        and_(
            col(Subscriber.email) >= prefix,
            col(Subscriber.email) < after,
            col(Subscriber.email).like(pattern, escape="\\"),
        ),
        and_(name >= prefix, name < after, name.like(pattern, escape="\\")),
    )


def _next_char(char: str) -> str:
    """The character after `char`, skipping the surrogates (no database stores them)."""
    code = min(ord(char) + 1, 0x10FFFF)
    return chr(0xE000 if 0xD800 <= code <= 0xDFFF else code)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class ReaderRecord:
    subscriber: Subscriber
    history: list[dict[str, Any]]  # issues sent to them, newest first, with the provider's marks
    events: list[dict[str, Any]]  # provider events about their copies, newest first


def reader_record(session: Session, subscriber_id: int) -> ReaderRecord:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(f"there is no reader #{subscriber_id}")
    return ReaderRecord(
        subscriber=subscriber,
        history=delivery_history(session, subscriber_id),
        events=provider_events(session, subscriber_id),
    )


def delivery_history(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """Each issue's copy for this reader: status, when, why it failed, and the provider's marks
    (one query for the copies, one for all their marks)."""
    copies = session.execute(
        select_columns(
            col(Delivery.id),
            col(Issue.number),
            col(Delivery.status),
            col(Delivery.finished_at),
            col(Delivery.error),
        )
        .join(Issue, col(Issue.id) == col(Delivery.issue_id))
        .where(col(Delivery.subscriber_id) == subscriber_id)
        .order_by(col(Issue.number).desc())
        .limit(HISTORY_SHOWN)
    ).all()
    marks = _marks_by_delivery(session, [row[0] for row in copies if row[0] is not None])
    return [
        {
            "issue": number,
            "status": str(status),
            "at": at,
            "error": error,
            "marks": marks.get(delivery_id or 0, []),
        }
        for delivery_id, number, status, at, error in copies
    ]


def _marks_by_delivery(session: Session, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    rows = session.exec(
        select(DeliveryMark.delivery_id, DeliveryMark.event)
        .where(col(DeliveryMark.delivery_id).in_(ids))
        .order_by(col(DeliveryMark.event))
    ).all()
    for delivery_id, event in rows:
        found.setdefault(delivery_id, []).append(event)
    return found


def provider_events(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    query = (
        select(
            WebhookEvent.received_at, WebhookEvent.event_type, WebhookEvent.outcome, Issue.number
        )
        .join(Delivery, col(Delivery.provider_id) == col(WebhookEvent.provider_email_id))
        .join(Issue, col(Issue.id) == col(Delivery.issue_id))
        .where(col(Delivery.subscriber_id) == subscriber_id)
        .order_by(col(WebhookEvent.received_at).desc())
        .limit(HISTORY_SHOWN)
    )
    return [
        {"at": at, "type": kind, "outcome": outcome, "issue": number}
        for at, kind, outcome, number in session.exec(query).all()
    ]
