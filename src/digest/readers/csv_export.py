"""Subscriber lists out as CSV, for operators auditing or moving a list: every reader with
status and consent record. Plain rows of the exported columns, a page at a time by keyset on
id, written straight to CSV: no ORM objects, and memory stays flat whatever the size of the
list. Every text cell is defused for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, select
from sqlmodel import Session

from digest.models import Subscriber, SubscriberStatus

__all__ = ["EXPORT_COLUMNS", "Export", "export_csv"]

EXPORT_COLUMNS = (
    "email",
    "name",
    "status",
    "subscribed_at",
    "confirmed_at",
    "unsubscribed_at",
    "suppressed_at",
    "erased_at",
    "consent_route",
    "consent_at",
    "consent_ip",
    "consent_user_agent",
    "email_hash",
)
EXPORT_PAGE = 1000  # readers per query of an export
SUBSCRIBERS: Table = Subscriber.__table__  # type: ignore[attr-defined]
# The columns behind EXPORT_COLUMNS, in its order ("subscribed_at" is when the row was made).
EXPORT_SOURCE = [
    SUBSCRIBERS.c[name]
    for name in ("created_at" if column == "subscribed_at" else column for column in EXPORT_COLUMNS)
]


class Export:
    """`export_csv`: iterate for the text; `count` is the readers written so far."""

    def __init__(self, session: Session, status: SubscriberStatus | None, page: int) -> None:
        self.session = session
        self.status = status
        self.page = page
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        buffer = io.StringIO()
        # CRLF, as RFC 4180 has it: csv.writer quotes a cell holding any character of its line
        # terminator, and with "\n" alone a carriage return in a cell went out unquoted, which
        # ends the row for a CSV reader (and made the whole file unreadable to the import).
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        yield _drain(buffer)
        for rows in self._pages():
            writer.writerows(map(_export_row, rows))
            self.count += len(rows)
            yield _drain(buffer)

    def _pages(self) -> Iterator[Sequence[Row[Any]]]:
        """Plain rows of the exported columns, oldest first, `page` at a time by keyset."""
        after = 0
        connection = self.session.connection()
        while True:
            query = select(SUBSCRIBERS.c.id, *EXPORT_SOURCE).where(SUBSCRIBERS.c.id > after)
            if self.status is not None:
                query = query.where(SUBSCRIBERS.c.status == self.status)
            rows = connection.execute(query.order_by(SUBSCRIBERS.c.id).limit(self.page)).all()
            if rows:
                yield rows
            if len(rows) < self.page:
                return
            after = rows[-1][0]


def export_csv(
    session: Session, *, status: SubscriberStatus | None = None, page: int = EXPORT_PAGE
) -> Export:
    """CSV text of every subscriber (of one status) with status and consent record: the
    header, then a page of readers per string. Plain rows, no ORM objects, a page at a time:
    memory stays flat whatever the size of the list."""
    return Export(session, status, page)


def _export_row(row: Sequence[Any]) -> tuple[str, ...]:
    """Every text cell defused (even an address may start with "=" or "@"); times in ISO."""
    _id, email, name, status, created, confirmed, left, suppressed, erased = row[:9]
    route, consent_at, ip, agent, digest = row[9:]
    return (
        _cell(email),
        _cell(name),
        _cell(status),
        _iso(created),
        _iso(confirmed),
        _iso(left),
        _iso(suppressed),
        _iso(erased),
        _cell(route),
        _iso(consent_at),
        _cell(ip),
        _cell(agent),
        _cell(digest),
    )


def _drain(buffer: io.StringIO) -> str:
    value = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return value


def _cell(value: str | None) -> str:
    """Text a visitor typed, defused for spreadsheets: a leading = + - @ would run as a formula."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
