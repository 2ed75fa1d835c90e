"""Claim, compose and freeze on real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import issues
from digest.config import Settings
from digest.db import session_scope
from digest.errors import InvalidInput, NotFound, NothingToSend
from digest.models import Comparison, Issue, IssueComparison, IssueStatus
from tests.support.issue_data import comparison_doc, import_docs, week_of

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday, ISO week 2026-W48


def claim(engine: Engine, settings: Settings, now: datetime = NOW) -> Issue:
    with session_scope(engine) as session:
        return issues.claim_issue(session, settings, now=now)


def freeze(engine: Engine, settings: Settings, now: datetime = NOW) -> Issue:
    with session_scope(engine) as session:
        issue = issues.claim_issue(session, settings, now=now)
        return issues.freeze_issue(session, settings, issue, now=now)


def count(engine: Engine, model: type) -> int:
    with session_scope(engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_period_is_the_iso_week_in_the_newsletter_time_zone() -> None:
    sunday_night_utc = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert issues.period_of(sunday_night_utc, ZoneInfo("UTC")) == "2026-W47"
    assert issues.period_of(sunday_night_utc, ZoneInfo("Europe/Berlin")) == "2026-W48"
    assert issues.period_of(datetime(2027, 1, 1, 12, tzinfo=UTC), ZoneInfo("UTC")) == "2026-W53"


def test_claim_creates_one_numbered_draft_per_period(engine: Engine, settings: Settings) -> None:
    first = claim(engine, settings)
    again = claim(engine, settings, NOW + timedelta(days=2))
    assert (first.id, first.number, first.period, first.status) == (
        again.id,
        1,
        "2026-W48",
        IssueStatus.DRAFT,
    )
    assert count(engine, Issue) == 1


def test_concurrent_claims_end_with_one_row(engine: Engine, settings: Settings) -> None:
    barrier, results, errors = threading.Barrier(4), [], []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(claim(engine, settings).id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(set(results)) == 1 and len(results) == 4
    assert count(engine, Issue) == 1


def test_next_period_gets_the_next_number_and_a_stale_draft_moves(
    engine: Engine, settings: Settings
) -> None:
    import_docs(engine, week_of(NOW, 1), now=NOW)
    assert freeze(engine, settings).number == 1
    later = NOW + timedelta(days=7)
    with session_scope(engine) as session:
        issues.set_overrides(session, settings, subject="Hand-picked", note=None, now=later)
    moved = claim(engine, settings, later + timedelta(days=7))
    assert (moved.number, moved.period, moved.subject_override) == (2, "2026-W50", "Hand-picked")
    assert count(engine, Issue) == 2


def test_first_issue_looks_back_seven_days(engine: Engine, settings: Settings) -> None:
    docs = [
        comparison_doc(1, NOW - timedelta(days=6, hours=23)),
        comparison_doc(2, NOW - timedelta(days=7, hours=1)),
        comparison_doc(3, NOW + timedelta(minutes=1)),
    ]
    import_docs(engine, docs, now=NOW)
    with session_scope(engine, read_only=True) as session:
        composition = issues.compose_issue(session, settings, now=NOW)
    assert [v.comparison.slug for v in composition.all] == ["tool-a-1-vs-tool-b-1"]
    assert composition.window_start == NOW - timedelta(days=7)
    assert composition.cutoff == NOW


def test_featured_are_the_newest_and_nothing_is_dropped(engine: Engine, settings: Settings) -> None:
    import_docs(engine, week_of(NOW, 8), now=NOW)
    with session_scope(engine, read_only=True) as session:
        composition = issues.compose_issue(session, settings, now=NOW)
    assert len(composition.featured) == settings.max_comparisons == 5
    assert [v.comparison.slug for v in composition.featured] == [
        f"tool-a-{i}-vs-tool-b-{i}" for i in range(5)
    ]
    assert [v.comparison.slug for v in composition.more] == [
        f"tool-a-{i}-vs-tool-b-{i}" for i in range(5, 8)
    ]


def test_nothing_new_raises_nothing_to_send(engine: Engine, settings: Settings) -> None:
    with session_scope(engine, read_only=True) as session, pytest.raises(NothingToSend) as info:
        issues.compose_issue(session, settings, now=NOW)
    assert "no new comparisons" in info.value.message


def test_next_issue_starts_at_the_last_cutoff_and_skips_carried_ones(
    engine: Engine, settings: Settings
) -> None:
    import_docs(engine, week_of(NOW, 2), now=NOW)
    first = freeze(engine, settings)
    later = NOW + timedelta(days=7)
    # a carried comparison re-imported with a later date must not appear twice
    moved = comparison_doc(0, later - timedelta(hours=1))
    fresh = comparison_doc(10, later - timedelta(hours=2))
    import_docs(engine, [moved, fresh], now=later)
    with session_scope(engine, read_only=True) as session:
        composition = issues.compose_issue(session, settings, now=later)
    assert composition.window_start == first.cutoff == NOW
    assert [v.comparison.slug for v in composition.all] == ["tool-a-10-vs-tool-b-10"]


def test_freeze_stores_everything_once(engine: Engine, settings: Settings) -> None:
    import_docs(engine, week_of(NOW, 7), now=NOW)
    issue = freeze(engine, settings)
    assert issue.status == IssueStatus.SENDING
    assert issue.frozen_at == NOW and issue.cutoff == NOW
    assert issue.window_start == NOW - timedelta(days=7)
    assert issue.subject and issue.preheader and issue.html and issue.text
    with session_scope(engine, read_only=True) as session:
        rows = session.exec(
            select(IssueComparison).order_by(IssueComparison.position)  # type: ignore[arg-type]
        ).all()
    assert [row.featured for row in rows] == [True] * 5 + [False] * 2
    assert [row.position for row in rows] == list(range(7))


def test_freeze_is_idempotent_and_byte_identical(engine: Engine, settings: Settings) -> None:
    import_docs(engine, week_of(NOW, 2), now=NOW)
    first = freeze(engine, settings)
    # new content, an override and a later clock change nothing in a frozen issue
    import_docs(engine, [comparison_doc(20, NOW - timedelta(minutes=5))], now=NOW)
    with session_scope(engine) as session:
        issue = session.get(Issue, first.id)
        assert issue is not None
        again = issues.freeze_issue(session, settings, issue, now=NOW + timedelta(hours=3))
    assert (again.html, again.text, again.subject, again.frozen_at) == (
        first.html,
        first.text,
        first.subject,
        first.frozen_at,
    )
    assert count(engine, IssueComparison) == 2


def test_concurrent_freezes_write_one_copy(engine: Engine, settings: Settings) -> None:
    import_docs(engine, week_of(NOW, 3), now=NOW)
    claim(engine, settings)
    barrier, results, errors = threading.Barrier(3), [], []

    def worker(offset: int) -> None:
        try:
            barrier.wait()
            results.append(freeze(engine, settings, NOW + timedelta(seconds=offset)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len({(r.html, r.frozen_at) for r in results}) == 1
    assert count(engine, IssueComparison) == 3


def test_freeze_with_nothing_new_leaves_the_draft(engine: Engine, settings: Settings) -> None:
    claim(engine, settings)
    with pytest.raises(NothingToSend):
        freeze(engine, settings)
    with session_scope(engine, read_only=True) as session:
        draft = issues.find_draft(session)
    assert draft is not None and draft.frozen_at is None and draft.html is None


def test_overrides_shape_the_frozen_issue(engine: Engine, settings: Settings) -> None:
    import_docs(engine, week_of(NOW, 1), now=NOW)
    with session_scope(engine) as session:
        issues.set_overrides(
            session, settings, subject="  Big\nweek \r\n for GPUs ", note="Short & sweet.", now=NOW
        )
    issue = freeze(engine, settings)
    assert issue.subject == "Big week for GPUs"
    assert issue.html is not None and "Short &amp; sweet." in issue.html
    assert issue.text is not None and "From the editor:\nShort & sweet." in issue.text


def test_bad_overrides_change_nothing(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        issues.set_overrides(session, settings, subject="Kept", note="Kept note", now=NOW)
    with pytest.raises(InvalidInput) as info, session_scope(engine) as session:
        issues.set_overrides(session, settings, subject="x" * 151, note="y" * 2001, now=NOW)
    assert "subject" in info.value.message and "note" in info.value.message
    with session_scope(engine, read_only=True) as session:
        draft = issues.find_draft(session)
    assert draft is not None and (draft.subject_override, draft.editor_note) == (
        "Kept",
        "Kept note",
    )


def test_overrides_after_sending_apply_to_the_next_issue(
    engine: Engine, settings: Settings
) -> None:
    import_docs(engine, week_of(NOW, 1), now=NOW)
    sent = freeze(engine, settings)
    with session_scope(engine) as session:
        nxt = issues.set_overrides(session, settings, subject="Next", note=None, now=NOW)
    assert (nxt.number, nxt.period, nxt.frozen_at) == (2, "2026-W49", None)
    with session_scope(engine, read_only=True) as session:
        stored = session.get(Issue, sent.id)
    assert stored is not None and stored.subject_override is None


def test_published_issues_only(engine: Engine, settings: Settings) -> None:
    import_docs(engine, week_of(NOW, 1), now=NOW)
    freeze(engine, settings)
    claim(engine, settings, NOW + timedelta(days=7))
    with session_scope(engine, read_only=True) as session:
        assert [i.number for i in issues.list_published(session)] == [1]
        assert [i.number for i in issues.list_issues(session)] == [2, 1]
        assert issues.get_published(session, 1).number == 1
        with pytest.raises(NotFound, match="no sent issue #2"):
            issues.get_published(session, 2)
        assert session.exec(select(func.count()).select_from(Comparison)).one() == 1


def test_a_late_scheduled_claim_takes_the_scheduled_week_and_the_editors_draft(
    engine: Engine, settings: Settings
) -> None:
    """Sunday 23:00 run starting Monday 00:30: Sunday's week. A draft the editor already gave a
    subject on Monday (so under Monday's week) is that issue: same number, same subject."""
    sunday_23 = NOW - timedelta(hours=9)  # Sunday 2026-11-22 23:00 UTC, week 2026-W47
    with session_scope(engine) as session:
        issues.set_overrides(
            session,
            settings,
            subject="Hand-picked",
            note=None,
            now=NOW - timedelta(hours=7, minutes=50),
        )
    with session_scope(engine) as session:
        late = issues.claim_issue(
            session, settings, now=NOW - timedelta(hours=7, minutes=30), period_at=sunday_23
        )
        claimed = (late.number, late.period, late.subject_override)
    assert claimed == (1, "2026-W47", "Hand-picked")
    assert count(engine, Issue) == 1


def slugs(composition: issues.Composition) -> list[str]:
    return [view.comparison.slug for view in composition.all]


def test_a_comparison_imported_after_the_cutoff_but_dated_before_it_goes_in_the_next_issue(
    engine: Engine, settings: Settings
) -> None:
    import_docs(engine, week_of(NOW, 2), now=NOW)
    assert freeze(engine, settings).cutoff == NOW  # issue #1 frozen at 08:00
    import_docs(
        engine, [comparison_doc(40, NOW - timedelta(minutes=2))], now=NOW + timedelta(minutes=5)
    )
    second = freeze(engine, settings, NOW + timedelta(days=7))
    with session_scope(engine, read_only=True) as session:
        carried = session.exec(
            select(Comparison.slug)
            .join(IssueComparison, IssueComparison.comparison_id == Comparison.id)  # type: ignore[arg-type]
            .where(IssueComparison.issue_id == second.id)
        ).all()
    assert (second.number, carried) == (2, ["tool-a-40-vs-tool-b-40"])


def test_late_imports_count_only_within_the_last_issues_window(
    engine: Engine, settings: Settings
) -> None:
    """A back-filled archive of old pages is not news; a page dated before the last cutoff
    that was imported after it is, and so is one imported "after" the compose time."""
    import_docs(engine, week_of(NOW, 1), now=NOW)
    freeze(engine, settings)  # window (NOW - 7 d, NOW]
    later = NOW + timedelta(days=7)
    import_docs(
        engine,
        [comparison_doc(50, NOW - timedelta(days=30)), comparison_doc(51, NOW - timedelta(days=2))],
        now=NOW + timedelta(hours=1),
    )
    import_docs(
        engine, [comparison_doc(52, NOW - timedelta(minutes=1))], now=later + timedelta(hours=3)
    )
    with session_scope(engine, read_only=True) as session:
        composition = issues.compose_issue(session, settings, now=later)
    assert slugs(composition) == ["tool-a-52-vs-tool-b-52", "tool-a-51-vs-tool-b-51"]


def test_the_front_page_and_the_archive_agree_on_a_paused_issue(engine: Engine) -> None:
    """A paused send is public in the archive, so the front page's sample shows it too."""
    with session_scope(engine) as session:
        for number, status in ((1, IssueStatus.SENT), (2, IssueStatus.PAUSED)):
            session.add(
                Issue(
                    number=number,
                    period=f"2026-W{46 + number}",
                    status=status,
                    subject=f"Issue {number}",
                    frozen_at=NOW,
                )
            )
    with session_scope(engine, read_only=True) as session:
        latest = issues.latest_published(session)
        archive = issues.list_published(session)
    assert latest is not None and latest.number == 2
    assert [issue.number for issue in archive] == [2, 1]
