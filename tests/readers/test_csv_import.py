"""The streamed CSV import (`csv_io.import_csv`, written by `bulk`) and the export, in process,
on both engines: every bad row reported and nothing written, the byte limit, known addresses
skipped as before, hostile files, and the export's exact output."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.db import session_scope
from digest.errors import InvalidInput
from digest.models import (
    ConsentRoute,
    MessageKind,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
)
from digest.readers import csv_export, csv_io, privacy, subscriptions
from digest.readers.bulk import CHUNK, ImportReport
from tests.support.ledger import NOW

LIMIT = 1 << 30


def import_text(
    engine: Engine, text: str | bytes, *, confirmed: bool = True, max_bytes: int = LIMIT
) -> ImportReport:
    raw = text.encode() if isinstance(text, str) else text
    with session_scope(engine) as session:
        return csv_io.import_csv(
            session, "list.csv", io.BytesIO(raw), confirmed=confirmed, now=NOW, max_bytes=max_bytes
        )


def readers(engine: Engine) -> dict[str | None, Subscriber]:
    with session_scope(engine, read_only=True) as session:
        return {row.email: row for row in session.exec(select(Subscriber)).all()}


def stored(engine: Engine) -> int:
    with session_scope(engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(Subscriber)).one())


def listing(count: int, bad: dict[int, str] | None = None) -> str:
    """A CSV of `count` readers; `bad` replaces the address on those file lines."""
    lines = ["email,name"]
    for line in range(2, count + 2):
        lines.append(f"{(bad or {}).get(line, f'reader{line}@example.com')},Reader {line}")
    return "\n".join(lines) + "\n"


def test_a_valid_file_of_20k_rows_is_imported(engine: Engine) -> None:
    report = import_text(engine, listing(20_000))
    assert len(report.added) == 20_000 and not report.already_listed
    assert stored(engine) == 20_000
    with session_scope(engine, read_only=True) as session:
        found = subscriptions.find_by_email(session, "Reader20001@Example.com")
        assert found is not None and found.name == "Reader 20001"
        assert found.status == SubscriberStatus.CONFIRMED
        assert found.consent_route == ConsentRoute.IMPORT and found.confirmed_at == NOW


def test_every_bad_row_is_reported_by_line_and_nothing_is_written(engine: Engine) -> None:
    # far apart: the good rows before the first bad one fill several chunks first
    bad = {line: "not-an-address" for line in range(3 * CHUNK, 3 * CHUNK + 150)}
    bad[2] = "first@@example.com"
    bad[4 * CHUNK] = "reader3@example.com"  # twice in the file
    with pytest.raises(InvalidInput) as caught:
        import_text(engine, listing(5 * CHUNK, bad))
    where = [where for where, _what in caught.value.problems]
    assert where[:3] == ["line 2", f"line {3 * CHUNK}", f"line {3 * CHUNK + 1}"]
    assert len(where) == csv_io.PROBLEMS_SHOWN + 2
    assert "and 52 more bad rows (152 in all)" in caught.value.message
    assert caught.value.problems[-1] == ("", "nothing was imported")
    assert stored(engine) == 0


def test_the_last_bad_row_is_counted_too(engine: Engine) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_text(engine, listing(3 * CHUNK, {3 * CHUNK + 1: "x"}))
    assert caught.value.problems[0][0] == f"line {3 * CHUNK + 1}"
    assert stored(engine) == 0


def test_a_file_over_the_byte_limit_is_refused_and_nothing_written(engine: Engine) -> None:
    text = listing(3 * CHUNK)
    with pytest.raises(InvalidInput, match="larger than 64 KiB; split the file"):
        import_text(engine, text, max_bytes=64 * 1024)
    assert stored(engine) == 0
    assert len(import_text(engine, text, max_bytes=len(text.encode())).added) == 3 * CHUNK


def test_known_addresses_are_skipped_as_before(engine: Engine) -> None:
    with session_scope(engine) as session:
        for address in ("known@example.com", "gone@example.com", "bounced@example.com"):
            subscriptions.add_subscriber(
                session, address, confirmed=True, route=ConsentRoute.CLI, now=NOW
            )
    with session_scope(engine) as session:
        gone = subscriptions.find_by_email(session, "gone@example.com")
        bounced = subscriptions.find_by_email(session, "bounced@example.com")
        assert gone is not None and gone.id and bounced is not None and bounced.id
        privacy.erase_subscriber(session, gone.id, now=NOW)
        subscriptions.suppress_subscriber(
            session, bounced.id, status=SubscriberStatus.BOUNCED, now=NOW
        )
    report = import_text(
        engine,
        "Email,Name\nKNOWN@example.com,K\nnew@example.com,New\ngone@example.com,\n"
        "bounced@example.com,\n",
        confirmed=False,
    )
    assert (len(report.added), list(report.added)) == (1, ["new@example.com"])
    assert list(report.already_listed) == ["known@example.com"]
    assert list(report.not_readded) == ["gone@example.com", "bounced@example.com"]
    assert report.confirmations == 1
    rows = readers(engine)
    assert rows["known@example.com"].name is None  # a known reader is left as they were
    assert rows["new@example.com"].status == SubscriberStatus.PENDING
    assert rows["new@example.com"].confirm_sent_at == NOW
    with session_scope(engine, read_only=True) as session:
        messages = session.exec(select(TransactionalMessage)).all()
    assert [(m.subscriber_id, m.kind) for m in messages] == [
        (rows["new@example.com"].id, MessageKind.CONFIRM)
    ]


def test_hostile_files_get_a_clear_error_and_write_nothing(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="line 3: not UTF-8"):
        import_text(engine, b"email\na@example.com\n\xff\xfe@example.com\n")
    with pytest.raises(InvalidInput, match="line 2: longer than 256 KiB"):
        import_text(engine, b"email\n" + b"a" * (300 * 1024) + b"\n")
    with pytest.raises(InvalidInput, match="line 2: "):
        import_text(engine, b"email,name\nnul\x00@example.com,Ann\nb@example.com,Bob\n")
    assert stored(engine) == 0
    report = import_text(engine, "\ufeffemail,name\nc@example.com,An\x00n\x1b[31m\n")
    assert len(report.added) == 1 and readers(engine)["c@example.com"].name == "Ann[31m"


def test_export_streams_every_reader_with_formulas_defused(engine: Engine) -> None:
    names = ["=1+1", "+SUM(A1)", "-2", "@cmd", "Plain"]
    with session_scope(engine) as session:
        for number, name in enumerate(names):
            subscriptions.add_subscriber(
                session,
                f"r{number}@example.com",
                name=name,
                confirmed=True,
                route=ConsentRoute.CLI,
                now=NOW + timedelta(seconds=number),
            )
    with session_scope(engine, read_only=True) as session:
        text = "".join(csv_export.export_csv(session, page=2))
    table = list(csv.reader(io.StringIO(text)))
    assert tuple(table[0]) == csv_export.EXPORT_COLUMNS
    assert [row[:3] for row in table[1:]] == [
        ["r0@example.com", "'=1+1", "confirmed"],
        ["r1@example.com", "'+SUM(A1)", "confirmed"],
        ["r2@example.com", "'-2", "confirmed"],
        ["r3@example.com", "'@cmd", "confirmed"],
        ["r4@example.com", "Plain", "confirmed"],
    ]
    assert table[1][3] == NOW.isoformat()
    assert table[1][-1] == subscriptions.email_hash("r0@example.com")


def test_two_imports_in_one_transaction(engine: Engine) -> None:
    rows = csv_io.parse_csv("a.csv", b"email\na@example.com\nb@example.com\n")
    with session_scope(engine) as session:
        first = csv_io.import_rows(session, rows, confirmed=True, now=NOW)
        again = csv_io.import_rows(session, rows[:1], confirmed=True, now=NOW)
    assert (len(first.added), len(again.added), list(again.already_listed)) == (
        2,
        0,
        ["a@example.com"],
    )
    assert stored(engine) == 2
