"""Subscriber lists in and out as CSV, for operators migrating or auditing a list.

Import is all-or-nothing: every row is checked first, and one bad row (with its line number)
stops the whole file before anything is written. Addresses already known are skipped, and an
erased or suppressed address is never re-added: its hash is still on file. The exports of
Mailchimp, Substack, Buttondown and listmonk are read as they come (`csv_columns`); readers
they mark as gone are never imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from digest.errors import InvalidInput
from digest.models import ConsentRoute, Subscriber, SubscriberStatus
from digest.readers import subscriptions
from digest.readers.csv_columns import Columns, find_columns
from digest.readers.privacy import consent_record
from digest.readers.signup import queue_confirmation

MAX_ROWS = 100_000
MAX_FILE_BYTES = 10 * 1024 * 1024
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


@dataclass(frozen=True)
class ImportRow:
    line: int
    email: str
    name: str | None
    left: str | None = None  # the old list says this reader left (why): never imported
    unconfirmed: bool = False  # the old list never had their confirmation


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    already_listed: list[str] = field(default_factory=list)
    not_readded: list[str] = field(default_factory=list)  # erased or suppressed before
    left_before: list[str] = field(default_factory=list)  # gone from the old list: skipped
    asked_to_confirm: list[str] = field(default_factory=list)  # unconfirmed there: pending here
    message_ids: list[int] = field(default_factory=list)  # confirmations to send


def parse_csv(source: str, raw: bytes) -> list[ImportRow]:
    """Rows of a CSV with an email column (and optionally a name, or first and last names);
    InvalidInput lists every bad row by line number. Read at most MAX_FILE_BYTES + 1 bytes:
    more is refused."""
    text = _decode(source, raw)
    # strict: a stray or unclosed quote is an error, not a field that swallows the next rows
    reader = csv.DictReader(io.StringIO(text), strict=True)
    try:
        return _parse_rows(source, reader)
    except csv.Error as exc:
        raise InvalidInput(source, [(f"line {reader.line_num}", f"malformed CSV: {exc}")]) from None


def _decode(source: str, raw: bytes) -> str:
    if len(raw) > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // 1_048_576
        raise InvalidInput(source, [("", f"larger than {limit} MiB; split the file")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (bad byte at offset {exc.start})"
        raise InvalidInput(source, [("", problem)]) from None


def _parse_rows(source: str, reader: csv.DictReader[str]) -> list[ImportRow]:
    columns = find_columns(source, reader.fieldnames)
    rows: list[ImportRow] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for record in reader:
        if reader.line_num > MAX_ROWS + 1:
            raise InvalidInput(source, [("", f"more than {MAX_ROWS} rows; split the file")])
        try:
            row = _row(reader.line_num, record, columns, seen)
        except InvalidInput as exc:
            problems.append((f"line {reader.line_num}", exc.problems[0][1]))
            continue
        if row is not None:
            rows.append(row)
    if problems:
        raise InvalidInput(source, problems)
    return rows


def _row(
    line: int, record: Mapping[str | None, object], columns: Columns, seen: set[str]
) -> ImportRow | None:
    raw_email = record.get(columns.email)
    raw_name = columns.name_of(record)
    if not isinstance(raw_email, str) or (not raw_email.strip() and not raw_name):
        return None  # a blank line
    if any(
        isinstance(value, str) and ("\n" in value or "\r" in value) for value in record.values()
    ):
        raise InvalidInput("row", [("", "a field spans several lines (check the quotes)")])
    standing = columns.standing(record)
    if standing.left is not None:  # not ours to import, whatever its address looks like
        return ImportRow(line=line, email=raw_email.strip(), name=None, left=standing.left)
    email = subscriptions.normalise_email(raw_email)
    name = subscriptions.clean_name(raw_name)
    if email in seen:
        raise InvalidInput("row", [("", f"{email} appears twice in the file")])
    seen.add(email)
    return ImportRow(line=line, email=email, name=name, unconfirmed=standing.unconfirmed)


def import_rows(
    session: Session, rows: Iterable[ImportRow], *, confirmed: bool, now: datetime
) -> ImportReport:
    """Add every new address; pending ones get a confirmation email queued."""
    report = ImportReport()
    for row in rows:
        if row.left is not None:
            report.left_before.append(row.email)
            continue
        existing = subscriptions.find_by_email(session, row.email)
        if existing is not None:
            gone = existing.status == SubscriberStatus.ERASED or existing.suppressed_at
            (report.not_readded if gone else report.already_listed).append(row.email)
            continue
        vouched = confirmed and not row.unconfirmed
        subscriber = subscriptions.add_subscriber(
            session,
            row.email,
            name=row.name,
            confirmed=vouched,
            route=ConsentRoute.IMPORT,
            now=now,
        )
        report.added.append(row.email)
        if confirmed and not vouched:
            report.asked_to_confirm.append(row.email)
        if not vouched:
            message = queue_confirmation(session, subscriber, now=now)
            report.message_ids.append(message.id or 0)
    return report


def export_csv(subscribers: Iterable[Subscriber]) -> Iterator[str]:
    """CSV lines (header first) with status and the consent record of every subscriber."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    yield _drain(buffer)
    for subscriber in subscribers:
        consent = consent_record(subscriber)
        # every text column is defused: even an address may start with "=" or "@"
        row = [
            subscriber.email or "",
            subscriber.name,
            subscriber.status,
            _iso(subscriber.created_at),
            consent["confirmed_at"] or "",
            _iso(subscriber.unsubscribed_at),
            _iso(subscriber.suppressed_at),
            _iso(subscriber.erased_at),
            consent["route"],
            consent["at"] or "",
            consent["ip"] or "",
            consent["user_agent"],
            subscriber.email_hash,
        ]
        writer.writerow([_cell(value) for value in row])
        yield _drain(buffer)


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
