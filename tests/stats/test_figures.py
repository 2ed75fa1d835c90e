"""The desk's figures from a known history, on both engines."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import stats
from digest.db import session_scope
from digest.errors import NotFound
from digest.models import SubscriberStatus
from digest.stats.tallies import due_issues
from tests.support.desk_data import NOW, History, build_history, reader


@pytest.fixture
def history(engine: Engine) -> History:
    with session_scope(engine) as session:
        return build_history(session)


def test_list_health_counts_each_status(engine: Engine, history: History) -> None:
    with session_scope(engine, read_only=True) as session:
        health = stats.list_health(session)
    assert health.as_dict() == {
        "confirmed": 7,
        "pending": 1,
        "unsubscribed": 3,
        "suppressed": 0,
        "erased": 0,
        "total": 11,
    }


def test_issue_figures_from_ledger_marks_and_unsubscribes(engine: Engine, history: History) -> None:
    with session_scope(engine, read_only=True) as session:
        second, first = stats.issue_figures(session)
    assert (first.number, first.sent, first.failed, first.skipped) == (1, 8, 1, 1)
    assert (first.delivered, first.bounced, first.complained, first.unsubscribed) == (7, 1, 1, 1)
    assert first.bounce_rate == pytest.approx(1 / 8)
    assert first.complaint_rate == pytest.approx(1 / 8)
    assert (second.number, second.sent, second.failed, second.skipped) == (2, 6, 1, 0)
    assert (second.delivered, second.bounced, second.complained, second.unsubscribed) == (
        6,
        0,
        0,
        1,
    )
    assert second.complaint_rate == 0.0


def test_issue_figures_limit_takes_the_newest(engine: Engine, history: History) -> None:
    with session_scope(engine, read_only=True) as session:
        (only,) = stats.issue_figures(session, limit=1)
    assert only.number == 2


def test_growth_series_by_monday_weeks(engine: Engine, history: History) -> None:
    with session_scope(engine, read_only=True) as session:
        weeks = stats.growth_series(session, now=NOW, tz=ZoneInfo("UTC"))
    assert len(weeks) == 12
    assert weeks[-1].starts == date(2026, 11, 16)
    by_week = {w.starts: w for w in weeks}
    assert by_week[date(2026, 11, 2)].confirmed == 10
    nov9 = by_week[date(2026, 11, 9)]
    assert (nov9.unsubscribed, nov9.bounced, nov9.complained) == (2, 1, 1)
    assert by_week[date(2026, 11, 16)].unsubscribed == 1
    assert sum(w.confirmed for w in weeks) == 10


def test_growth_weeks_follow_the_timezone(engine: Engine, history: History) -> None:
    """Monday 08:00 UTC is still Monday in Berlin, but 03:00 Monday in New York is Sunday
    night: the week boundaries move with DIGEST_TIMEZONE."""
    with session_scope(engine, read_only=True) as session:
        pacific = stats.growth_series(session, now=NOW, tz=ZoneInfo("Pacific/Kiritimati"))
    # +14:00: reader 0's unsubscribe at Mon 11:00 UTC is Tuesday there, still this week,
    # and the week itself starts on the Monday there
    assert pacific[-1].starts == date(2026, 11, 16)
    assert pacific[-1].unsubscribed == 1


def test_issue_ledger_for_one_issue(engine: Engine, history: History) -> None:
    from digest.models import Issue

    with session_scope(engine, read_only=True) as session:
        issue = session.get(Issue, history.issue_ids[0])
        assert issue is not None
        ledger = stats.issue_ledger(session, issue)
    assert ledger.deliveries == {"queued": 0, "sent": 8, "failed": 1, "skipped": 1}
    assert ledger.batches["done"] == 10
    assert ledger.failures == [("mailbox unavailable", 1)]
    # both at the same instant: their order is the database's
    assert {(e["type"], e["reader"]) for e in ledger.events} == {
        ("bounced", history.reader_ids[7]),
        ("complained", history.reader_ids[6]),
    }
    assert ledger.figures.unsubscribed == 1 and not ledger.running
    with session_scope(engine) as session:
        stats.refresh_tallies(session, now=NOW)
    with session_scope(engine, read_only=True) as session:
        issue = session.get(Issue, history.issue_ids[0])
        assert issue is not None
        kept = stats.issue_ledger(session, issue)  # the sent issue's copies, from its tally
    assert kept.deliveries == ledger.deliveries and kept.figures == ledger.figures


def test_search_readers_pages_by_keyset(engine: Engine, history: History) -> None:
    with session_scope(engine, read_only=True) as session:
        first = stats.search_readers(session, limit=4)
        assert [r.id for r in first.rows] == sorted(history.reader_ids, reverse=True)[:4]
        assert first.next_cursor == str(first.rows[-1].id)
        seen = [r.id for r in first.rows]
        cursor: str | None = first.next_cursor
        while cursor is not None:
            page = stats.search_readers(session, limit=4, after=int(cursor))
            seen.extend(r.id for r in page.rows)
            cursor = page.next_cursor
    assert seen == sorted(history.reader_ids, reverse=True)


def test_search_by_address_name_and_status(engine: Engine, history: History) -> None:
    with session_scope(engine) as session:
        reader(session, 50, name="Zoë_100% O'Brien")
    with session_scope(engine, read_only=True) as session:
        by_address = stats.search_readers(session, query="READER1")
        by_name = stats.search_readers(session, query="zoë_100%")
        literal = stats.search_readers(session, query="reader_")  # _ is no wildcard
        inside = stats.search_readers(session, query="eader1")  # the start, not the middle
        astral = stats.search_readers(session, query="\U0010ffff\ud7ff")
        pending = stats.search_readers(session, status=SubscriberStatus.PENDING)
    assert {r.email for r in by_address.rows} == {"reader1@example.com", "reader10@example.com"}
    assert [r.email for r in by_name.rows] == ["reader50@example.com"]
    assert literal.rows == [] and inside.rows == [] and astral.rows == []
    assert [r.email for r in pending.rows] == ["reader10@example.com"]


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "9" * 19, "١٢", " 1"])
def test_bad_cursors_are_refused(raw: str) -> None:
    with pytest.raises(stats.BadCursor):
        stats.readers.parse_cursor(raw)


def test_bad_status_is_refused() -> None:
    with pytest.raises(stats.BadCursor):
        stats.readers.parse_status("<script>")


def test_reader_record_has_history_and_events(engine: Engine, history: History) -> None:
    with session_scope(engine, read_only=True) as session:
        record = stats.reader_record(session, history.reader_ids[6])
        with pytest.raises(NotFound):
            stats.reader_record(session, 999_999)
    assert [(h["issue"], h["status"]) for h in record.history] == [(2, "failed"), (1, "sent")]
    assert record.history[1]["marks"] == ["complained", "delivered"]
    assert {e["type"] for e in record.events} == {"email.delivered", "email.complained"}


def test_table_csv_defuses_formulas() -> None:
    lines = list(
        stats.table_csv(["name", "n"], [["=cmd|' /C calc'!A0", 3], ["@x", -1], ["\tt", None]])
    )
    assert lines[0] == "name,n\r\n"
    assert lines[1] == "'=cmd|' /C calc'!A0,3\r\n"
    assert lines[2] == "'@x,-1\r\n"
    assert lines[3] == "'\tt,\r\n"


def test_tallies_keep_what_live_counting_says(engine: Engine, history: History) -> None:
    with session_scope(engine, read_only=True) as session:
        live = stats.issue_figures(session)
    with session_scope(engine) as session:
        assert stats.refresh_tallies(session, now=NOW) == 2
    with session_scope(engine, read_only=True) as session:
        assert stats.issue_figures(session) == live
        assert due_issues(session, now=NOW) == []


def test_young_tallies_are_recounted_settled_ones_are_not(engine: Engine, history: History) -> None:
    from datetime import timedelta

    from digest.models import Delivery, DeliveryMark
    from digest.stats.tallies import REFRESH_EVERY

    with session_scope(engine) as session:
        stats.refresh_tallies(session, now=NOW)
        failed = session.exec(
            select(Delivery).where(
                Delivery.issue_id == history.issue_ids[1], Delivery.status == "failed"
            )
        ).one()
        session.add(DeliveryMark(delivery_id=failed.id or 0, event="complained", at=NOW))
    with session_scope(engine, read_only=True) as session:
        assert stats.issue_figures(session)[0].complained == 0  # kept until recounted
        assert due_issues(session, now=NOW + REFRESH_EVERY / 2) == []
        # issue 1 went out 9 days before NOW: counted after it settled, it is final
        assert due_issues(session, now=NOW + REFRESH_EVERY) == [history.issue_ids[1]]
    with session_scope(engine) as session:
        stats.refresh_tallies(session, now=NOW + REFRESH_EVERY)
    with session_scope(engine, read_only=True) as session:
        assert stats.issue_figures(session)[0].complained == 1
        assert due_issues(session, now=NOW + timedelta(days=30)) == [history.issue_ids[1]]
