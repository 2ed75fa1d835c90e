"""Readers written in bulk: an import of a million rows in the caller's one transaction, a few
thousand rows per statement instead of one query and one flush per row.

The rules are the row-by-row import's: an address already on file is skipped (reported as
already listed, or as not re-added when it was erased or suppressed: its hash stays for that),
a row the old list marks as gone is never imported, and a pending reader gets a confirmation
email queued in the same transaction. `INSERT ... ON CONFLICT DO NOTHING RETURNING` (SQLite and
PostgreSQL alike) decides what is new, so a reader who signs up on the web meanwhile is skipped
rather than failing the whole import.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, text
from sqlmodel import Session, col

from digest.db import UTCDateTime
from digest.models import (
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
)

# Rows per round trip: big enough that the per-statement cost vanishes, small enough that one
# chunk's parameters and its `IN (...)` lookup stay far below SQLite's 32,766 variables.
CHUNK = 2000
# The chunk's rows, staged: a temporary table (dropped at commit or rollback on PostgreSQL,
# with the connection on SQLite), filled by the driver's fastest path.
STAGE_TABLE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS import_stage (email VARCHAR(320) NOT NULL,"
    " email_hash VARCHAR(64) NOT NULL, name VARCHAR(100), vouched BOOLEAN NOT NULL)"
)
COPY_STAGE = "COPY import_stage (email, email_hash, name, vouched) FROM STDIN"
FILL_STAGE = "INSERT INTO import_stage VALUES (?, ?, ?, ?)"
EMPTY_STAGE = {"postgresql": "TRUNCATE import_stage", "sqlite": "DELETE FROM import_stage"}
# "WHERE true": SQLite's grammar needs a WHERE before ON CONFLICT in an INSERT ... SELECT.
INSERT_STAGED = """
INSERT INTO subscriber (email, email_hash, name, status, created_at, confirmed_at,
    confirm_sent_at, consent_route, consent_at, soft_bounces, pending_click_consent)
SELECT email, email_hash, name,
    CASE WHEN vouched THEN 'confirmed' ELSE 'pending' END,
    :now, CASE WHEN vouched THEN :now END, CASE WHEN vouched THEN NULL ELSE :now END,
    'import', :now, 0, false
FROM import_stage WHERE true
ON CONFLICT DO NOTHING
RETURNING id, email_hash
"""
SHOWN = 10  # addresses a report keeps per heading; the count covers them all
MESSAGES: Table = TransactionalMessage.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    email: str
    name: str | None
    left: str | None = None  # the old list says this reader left (why): never imported
    unconfirmed: bool = False  # the old list never had their confirmation


@dataclass
class Sample:
    """How many addresses fell under one heading of the report, and the first few of them: a
    million-row import keeps no million-entry list. len() is the count."""

    count: int = 0
    first: list[str] = field(default_factory=list)

    def add(self, address: str) -> None:
        self.count += 1
        if len(self.first) < SHOWN:
            self.first.append(address)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        return iter(self.first)


@dataclass
class ImportReport:
    added: Sample = field(default_factory=Sample)
    already_listed: Sample = field(default_factory=Sample)
    not_readded: Sample = field(default_factory=Sample)  # erased or suppressed before
    left_before: Sample = field(default_factory=Sample)  # gone from the old list: skipped
    asked_to_confirm: Sample = field(default_factory=Sample)  # unconfirmed there: pending here
    confirmations: int = 0  # confirmation emails queued, to send after the commit


class BulkImport:
    """Feed rows with `add`, then `finish` for the report. Nothing commits here: the caller's
    transaction makes the import all or nothing (its rollback undoes every chunk written)."""

    def __init__(self, session: Session, *, confirmed: bool, now: datetime) -> None:
        self.session = session
        self.confirmed = confirmed
        self.now = now
        self.report = ImportReport()
        self.waiting: list[ImportRow] = []
        self.staging = False  # the temporary table exists

    def add(self, row: ImportRow) -> None:
        if row.left is not None:
            self.report.left_before.add(row.email)
            return
        self.waiting.append(row)
        if len(self.waiting) >= CHUNK:
            self.flush()

    def finish(self) -> ImportReport:
        self.flush()
        return self.report

    def flush(self) -> None:
        rows, self.waiting = self.waiting, []
        if not rows:
            return
        by_hash = {_hash(row.email): row for row in rows}
        new = dict(self._insert(by_hash))
        self._report_known([digest for digest in by_hash if digest not in new], by_hash)
        pending: list[int] = []
        for digest, row in by_hash.items():  # in file order: the report's samples read so
            if digest in new:
                self._report_added(row, new[digest], pending)
        self._queue_confirmations(pending)

    def _vouched(self, row: ImportRow) -> bool:
        return self.confirmed and not row.unconfirmed

    def _insert(self, by_hash: dict[str, ImportRow]) -> list[tuple[str, int]]:
        """(email_hash, id) of the rows written; an address on file already is left alone.
        The chunk goes to the staging table, then into `subscriber` in one statement."""
        staged = [
            (row.email, digest, row.name, self._vouched(row)) for digest, row in by_hash.items()
        ]
        dialect = self.session.get_bind().dialect.name
        driver: Any = self.session.connection().connection.driver_connection
        cursor = driver.cursor()
        try:
            if not self.staging:
                cursor.execute(STAGE_TABLE + (" ON COMMIT DROP" if dialect == "postgresql" else ""))
                self.staging = True
            if dialect == "postgresql":
                with cursor.copy(COPY_STAGE) as copy:
                    for values in staged:
                        copy.write_row(values)
            else:
                cursor.executemany(FILL_STAGE, staged)
        finally:
            cursor.close()
        now = bindparam("now", self.now, type_=UTCDateTime())
        written = self.session.execute(text(INSERT_STAGED).bindparams(now)).all()
        self.session.execute(text(EMPTY_STAGE[dialect]))
        return [(digest, number) for number, digest in written]

    def _report_known(self, digests: list[str], by_hash: dict[str, ImportRow]) -> None:
        if not digests:
            return
        query = select(
            col(Subscriber.email_hash), col(Subscriber.status), col(Subscriber.suppressed_at)
        ).where(col(Subscriber.email_hash).in_(digests))
        gone = {
            digest
            for digest, status, suppressed_at in self.session.execute(query)
            if status == SubscriberStatus.ERASED or suppressed_at is not None
        }
        for digest in digests:
            heading = self.report.not_readded if digest in gone else self.report.already_listed
            heading.add(by_hash[digest].email)

    def _report_added(self, row: ImportRow, subscriber_id: int, pending: list[int]) -> None:
        self.report.added.add(row.email)
        if self._vouched(row):
            return
        if self.confirmed:
            self.report.asked_to_confirm.add(row.email)
        pending.append(subscriber_id)

    def _queue_confirmations(self, subscriber_ids: list[int]) -> None:
        """One confirmation email per new pending reader, as `mail_queue.queue_message` would
        queue it (same reference scheme: the Message-ID derives from it), in one statement."""
        if not subscriber_ids:
            return
        stamp = int(self.now.timestamp())
        kind = MessageKind.CONFIRM
        messages = [
            {
                "reference": f"{kind.value}-s{number}-{stamp}-{secrets.token_hex(8)}",
                "subscriber_id": number,
                "kind": kind,
                "status": MessageStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": self.now,
                "created_at": self.now,
            }
            for number in subscriber_ids
        ]
        self.session.execute(MESSAGES.insert(), messages)
        self.report.confirmations += len(messages)


def _hash(address: str) -> str:
    """`subscriptions.email_hash` of an address already normalised (without normalising it a
    second time: that is the costly part of a row)."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()
