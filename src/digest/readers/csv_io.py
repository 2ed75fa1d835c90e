"""Subscriber lists in as CSV, for operators migrating a list (`csv_export` writes them out).

Import is all-or-nothing: the file is read as a stream (any number of rows, up to a byte
limit), every row is checked, and if any is bad every bad row is reported by line number and
nothing is written. Good rows go to the store in chunks (`bulk`) within the caller's one
transaction while the rest is still being read; a bad row stops the writing and the caller's
rollback undoes it. Addresses already known are skipped, and an erased or suppressed address
is never re-added: its hash is still on file. The exports of Mailchimp, Substack, Buttondown
and listmonk are read as they come (`csv_columns`); readers they mark as gone are never
imported.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from sqlmodel import Session

from digest.errors import InvalidInput
from digest.readers import subscriptions
from digest.readers.bulk import BulkImport, ImportReport, ImportRow, Sample
from digest.readers.csv_columns import Columns, find_columns

__all__ = [
    "ImportReport",
    "ImportRow",
    "Sample",
    "import_csv",
    "import_rows",
    "parse_csv",
]

MAX_FILE_BYTES = 10 * 1024 * 1024  # an upload on the desk: held in memory whole
# No row of a subscriber list comes near this; a file that does (/dev/zero, a binary file, an
# unclosed quote) is refused at its first long line instead of being read into memory.
MAX_LINE_BYTES = 256 * 1024
PROBLEMS_SHOWN = 100  # bad rows an error lists; the count at the end covers every one
PROGRESS_LINES = 10_000  # how often the progress callback hears how far the reading got
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    problem: str


class Problems:
    """Every bad row, counted; the first PROBLEMS_SHOWN kept to be listed."""

    def __init__(self) -> None:
        self.count = 0
        self.listed: list[tuple[str, str]] = []

    def add(self, problem: RowProblem) -> None:
        self.count += 1
        if len(self.listed) < PROBLEMS_SHOWN:
            self.listed.append((f"line {problem.line}", problem.problem))

    def raise_any(self, source: str) -> None:
        if not self.count:
            return
        listed = list(self.listed)
        if self.count > len(listed):
            more = self.count - len(listed)
            listed.append(("", f"and {more} more bad rows ({self.count} in all)"))
        listed.append(("", "nothing was imported"))
        raise InvalidInput(source, listed)


def import_csv(
    session: Session,
    source: str,
    stream: BinaryIO,
    *,
    confirmed: bool,
    now: datetime,
    max_bytes: int,
    limit_hint: str = "split the file",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Read `stream` (a CSV file, at most `max_bytes`) and import it in the session's
    transaction; InvalidInput lists every bad row, and the caller rolls back. `progress`
    hears the bytes read so far."""
    writer = BulkImport(session, confirmed=confirmed, now=now)
    problems = Problems()
    lines = _lines(source, stream, max_bytes, limit_hint, progress)
    for item in read_rows(source, lines):
        if isinstance(item, RowProblem):
            problems.add(item)
        elif not problems.count:  # after a bad row nothing is written: it is rolled back
            writer.add(item)
    problems.raise_any(source)
    return writer.finish()


def parse_csv(source: str, raw: bytes) -> list[ImportRow]:
    """Rows of a CSV held in memory (the desk's upload, at most MAX_FILE_BYTES); InvalidInput
    lists every bad row by line number."""
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidInput(source, [("", f"larger than {_size(MAX_FILE_BYTES)}; split the file")])
    rows: list[ImportRow] = []
    problems = Problems()
    lines = _lines(source, io.BytesIO(raw), MAX_FILE_BYTES, "split the file", None)
    for item in read_rows(source, lines):
        if isinstance(item, RowProblem):
            problems.add(item)
        else:
            rows.append(item)
    problems.raise_any(source)
    return rows


def import_rows(
    session: Session, rows: Iterable[ImportRow], *, confirmed: bool, now: datetime
) -> ImportReport:
    """Add every new address; pending ones get a confirmation email queued."""
    writer = BulkImport(session, confirmed=confirmed, now=now)
    for row in rows:
        writer.add(row)
    return writer.finish()


def _lines(
    source: str,
    stream: BinaryIO,
    max_bytes: int,
    limit_hint: str,
    progress: Callable[[int], None] | None,
) -> Iterator[str]:
    """The stream's lines as text, each read and decoded on its own: UTF-8 (a leading BOM
    dropped), at most MAX_LINE_BYTES a line and `max_bytes` in all."""
    read = 0
    for number in itertools.count(1):
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        read += len(raw)
        if read > max_bytes:
            raise InvalidInput(source, [("", f"larger than {_size(max_bytes)}; {limit_hint}")])
        if len(raw) > MAX_LINE_BYTES:
            problem = f"longer than {_size(MAX_LINE_BYTES)}: this is not a list of readers"
            raise InvalidInput(source, [(f"line {number}", problem)])
        yield _decode(source, raw[3:] if number == 1 and raw.startswith(BOM) else raw, number)
        if progress is not None and number % PROGRESS_LINES == 0:
            progress(read)
    if progress is not None:
        progress(read)


def _decode(source: str, raw: bytes, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (bad byte at column {exc.start + 1}); save the file as UTF-8"
        raise InvalidInput(source, [(f"line {number}", problem)]) from None


def _size(limit: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= scale and limit % scale == 0:
            return f"{limit // scale} {unit}"
    return f"{limit} bytes"


def read_rows(source: str, lines: Iterable[str]) -> Iterator[ImportRow | RowProblem]:
    """Each row of the CSV, or what is wrong with it. A file whose header or quoting is broken
    raises InvalidInput: past a stray quote no line number means anything."""
    # strict: a stray or unclosed quote is an error, not a field that swallows the next rows
    reader = csv.DictReader(lines, strict=True)
    try:
        columns = find_columns(source, reader.fieldnames)
        seen: set[str] = set()
        for record in reader:
            try:
                row = _row(reader.line_num, record, columns, seen)
            except InvalidInput as exc:
                yield RowProblem(reader.line_num, exc.problems[0][1])
                continue
            if row is not None:
                yield row
    except csv.Error as exc:
        raise InvalidInput(source, [(f"line {reader.line_num}", f"malformed CSV: {exc}")]) from None


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
