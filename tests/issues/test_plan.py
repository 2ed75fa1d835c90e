"""What goes out next, and when: one answer for the preview, the send, the editor and the demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from digest import delivery, issues
from digest.config import Settings
from digest.db import session_scope
from digest.models import IssueStatus
from tests.support.issue_data import comparison_doc, import_docs, week_of
from tests.support.settings import make_test_settings

# Monday 30 Nov 2026, 09:00 in Berlin (ISO week 2026-W49); the weekly run is Mon 08:00 Berlin.
SENT_AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def berlin(tmp_path: Path, settings: Settings, **changes: object) -> Settings:
    values: dict[str, object] = {"timezone": "Europe/Berlin", "send_schedule": "mon 08:00"}
    values.update(changes)
    return make_test_settings(tmp_path, settings.database_url, **values)


def plan(engine: Engine, settings: Settings, now: datetime) -> issues.NextIssue:
    with session_scope(engine, read_only=True) as session:
        return issues.next_issue(session, settings, now=now)


def send_first_issue(engine: Engine, settings: Settings) -> None:
    import_docs(engine, week_of(SENT_AT, 2), now=SENT_AT)
    with session_scope(engine) as session:
        issue = delivery.prepare_issue(session, settings, now=SENT_AT)
        issue.status = IssueStatus.SENT
        session.add(issue)


def test_before_the_first_run_the_first_issue_goes_out_this_monday(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    settings = berlin(tmp_path, settings)
    early = SENT_AT - timedelta(hours=2)  # 07:00 Berlin
    import_docs(engine, week_of(early, 2), now=early)
    answer = plan(engine, settings, early)
    assert (
        answer.describe() == "#1 goes out Mon 30 Nov 08:00 Europe/Berlin with these 2 comparisons"
    )
    assert (answer.period, answer.sendable_now, answer.resuming) == ("2026-W49", True, False)


def test_after_this_weeks_issue_the_next_goes_out_next_week_everywhere(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    """The bug: preview and dry run promised #2 for 2026-W49, the send refused it, and an
    editor's save put the draft in W50. Now all of them give the same answer."""
    settings = berlin(tmp_path, settings)
    send_first_issue(engine, settings)
    now = SENT_AT + timedelta(hours=3)
    import_docs(engine, [comparison_doc(40, now - timedelta(minutes=30))], now=now)
    expected = "#2 goes out Mon 7 Dec 08:00 Europe/Berlin with these 1 comparisons"
    answer = plan(engine, settings, now)
    assert answer.describe() == expected
    assert (answer.number, answer.period, answer.sent_this_week) == (2, "2026-W50", 1)
    assert not answer.sendable_now
    with session_scope(engine, read_only=True) as session:
        preview = issues.preview_next_issue(session, settings, now=now)
    assert (preview.issue.number, preview.issue.period) == (2, "2026-W50")
    assert preview.plan.describe() == expected
    with session_scope(engine) as session:
        draft = issues.set_overrides(session, settings, subject="Hand-picked", note=None, now=now)
    assert (draft.number, draft.period) == (2, "2026-W50")
    assert plan(engine, settings, now).describe() == expected  # a save changes nothing of it


def test_a_week_whose_run_passed_without_an_issue_waits_for_the_next_run(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    settings = berlin(tmp_path, settings)
    tuesday = SENT_AT + timedelta(days=1)
    import_docs(engine, week_of(tuesday, 1), now=tuesday)
    answer = plan(engine, settings, tuesday)
    assert answer.describe().startswith("#1 goes out Mon 7 Dec 08:00 Europe/Berlin")
    assert answer.period == "2026-W50" and answer.sendable_now  # by hand: now, as W49's


def test_an_unfinished_issue_goes_out_first_and_now(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    settings = berlin(tmp_path, settings)
    import_docs(engine, week_of(SENT_AT, 3), now=SENT_AT)
    with session_scope(engine) as session:
        delivery.prepare_issue(session, settings, now=SENT_AT)  # frozen, queued, not sent
    later = SENT_AT + timedelta(days=2)
    answer = plan(engine, settings, later)
    assert answer.resuming and answer.goes_out_at == later and answer.sendable_now
    assert answer.describe().startswith("#1 goes out now")
    assert len(answer.comparisons) == 3
    with session_scope(engine, read_only=True) as session:
        after = issues.upcoming_issue(session, settings, now=later)
    assert (after.number, after.period) == (2, "2026-W50")


def test_nothing_new_says_when_the_next_would_go(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    settings = berlin(tmp_path, settings, send_schedule="fri 17:30")
    answer = plan(engine, settings, SENT_AT)
    assert answer.describe() == (
        "#1 goes out Fri 4 Dec 17:30 Europe/Berlin if comparisons are published by then (none yet)"
    )
    assert not answer.sendable_now


def test_the_run_keeps_its_wall_clock_time_across_dst(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    settings = make_test_settings(tmp_path, settings.database_url, timezone="Europe/London")
    winter_friday = datetime(2027, 3, 26, 12, 0, tzinfo=UTC)  # clocks go forward on Sunday
    answer = plan(engine, settings, winter_friday)
    assert answer.when() == "Mon 29 Mar 08:00 Europe/London"
    assert answer.goes_out_at == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)  # 08:00 BST
