"""Review on both engines: with DIGEST_REVIEW=required the scheduled run sends only an
approved issue, waits until then (sending once approved within grace), an edit or new content
withdraws the approval, frozen or unknown issues cannot be approved, and the reminder goes
out once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from digest import editors, schedule
from digest.config import Settings
from digest.db import session_scope
from digest.errors import Conflict, NotFound
from digest.models import Issue, IssueStatus
from digest.transports import Transport
from tests.support.issue_data import comparison_doc, import_docs, week_of
from tests.support.ledger import NOW, add_readers
from tests.support.settings import make_test_settings
from tests.support.wiring import wired

ED = "ed@example.com"


@pytest.fixture
def required(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    """Review required, two readers, three comparisons published before Monday 08:00."""
    import_docs(engine, week_of(NOW - timedelta(hours=1), 3), now=NOW - timedelta(hours=1))
    with session_scope(engine) as session:
        add_readers(session, 2)
    return make_test_settings(
        tmp_path,
        settings.database_url,
        review="required",
        editor_emails="a@example.com, b@example.com",
    )


def sent(settings: Settings) -> int:
    return len(list(settings.outbox_dir.glob("*.eml")))


def approve(
    engine: Engine, settings: Settings, *, at: datetime, number: int = 1, seen: str | None = None
) -> Issue:
    with session_scope(engine) as session:
        return editors.approve_issue(
            session, settings, number=number, actor=ED, now=at, seen_hash=seen
        )


def test_the_run_waits_for_approval_then_sends_within_grace(
    engine: Engine, required: Settings
) -> None:
    waiting = schedule.weekly_run(engine, required, **wired(required), now=NOW)
    assert "waits for approval" in waiting and sent(required) == 0
    assert (
        schedule.desk_run(engine, required, **wired(required), now=NOW + timedelta(minutes=1)) == []
    )
    approve(engine, required, at=NOW + timedelta(minutes=30))
    outcomes = schedule.desk_run(
        engine, required, **wired(required), now=NOW + timedelta(minutes=31)
    )
    assert any("issue #1" in o and "sent" in o for o in outcomes), outcomes
    assert sent(required) == 2
    with pytest.raises(Conflict, match="already sent"):
        approve(engine, required, at=NOW + timedelta(hours=1))


def test_approval_after_grace_sends_nothing(engine: Engine, required: Settings) -> None:
    late = NOW + timedelta(hours=required.schedule_grace_hours + 1)
    approve(engine, required, at=late)
    assert schedule.desk_run(engine, required, **wired(required), now=late) == []
    assert "stale" in schedule.weekly_run(engine, required, **wired(required), now=late)
    assert sent(required) == 0


def test_an_edit_after_approval_withdraws_it(engine: Engine, required: Settings) -> None:
    approve(engine, required, at=NOW - timedelta(hours=2))
    with session_scope(engine) as session:
        editors.edit_issue(
            session,
            required,
            subject="New subject",
            note=None,
            actor=ED,
            now=NOW - timedelta(hours=1),
        )
        state = editors.review_state(session, required, now=NOW - timedelta(hours=1))
    assert not state.approved and state.issue is not None and state.issue.approved_hash is None
    assert "waits for approval" in schedule.weekly_run(engine, required, **wired(required), now=NOW)
    with session_scope(engine, read_only=True) as session:
        actions = [e.action for e in editors.recent_audit(session, target="issue 1")]
    assert actions == ["edit", "approve"]
    assert sent(required) == 0


def test_new_content_after_approval_is_not_sent_unreviewed(
    engine: Engine, required: Settings
) -> None:
    approve(engine, required, at=NOW - timedelta(hours=2))
    import_docs(
        engine, [comparison_doc(77, NOW - timedelta(minutes=30))], now=NOW - timedelta(minutes=30)
    )
    outcome = schedule.weekly_run(engine, required, **wired(required), now=NOW)
    assert "changed after it was approved" in outcome and sent(required) == 0
    approve(engine, required, at=NOW + timedelta(minutes=5))
    schedule.desk_run(engine, required, **wired(required), now=NOW + timedelta(minutes=6))
    assert sent(required) == 2


def test_stale_unknown_and_wrong_numbers_are_refused(engine: Engine, required: Settings) -> None:
    at = NOW - timedelta(hours=3)
    with session_scope(engine, read_only=True) as session:
        before = editors.review_state(session, required, now=at)
    assert before.issue is None  # nothing claimed yet
    with pytest.raises(Conflict, match="changed since you looked"):
        approve(engine, required, at=at, seen="0" * 64)
    with pytest.raises(NotFound):
        approve(engine, required, at=at, number=99)
    with pytest.raises(NotFound):
        approve(engine, required, at=at, number=2**62)
    with session_scope(engine, read_only=True) as session:
        state = editors.review_state(session, required, now=at)
        assert editors.recent_audit(session) == []
    assert not state.approved
    assert state.content_hash is not None
    issue = approve(engine, required, at=at, seen=state.content_hash)
    assert issue.approved_by == ED


def test_the_review_reminder_goes_out_once(engine: Engine, required: Settings) -> None:
    early = NOW - timedelta(hours=30)
    assert editors.send_review_reminder(engine, required, **_transport(required), now=early) is None
    due = NOW - timedelta(hours=3, minutes=30)  # the oldest comparison is there by then
    first = editors.send_review_reminder(engine, required, **_transport(required), now=due)
    again = editors.send_review_reminder(
        engine, required, **_transport(required), now=due + timedelta(hours=1)
    )
    assert first is not None and "sent to 2" in first and again is None
    mails = sorted(p.read_text() for p in required.outbox_dir.glob("*.eml"))
    assert len(mails) == 2 and all("http://digest.test/editor" in m for m in mails)
    assert all("Issue #1 is ready for review" in m for m in mails)


def test_no_reminder_for_an_approved_issue(engine: Engine, required: Settings) -> None:
    approve(engine, required, at=NOW - timedelta(hours=3, minutes=50))
    assert (
        editors.send_review_reminder(
            engine, required, **_transport(required), now=NOW - timedelta(hours=20)
        )
        is None
    )


def _transport(settings: Settings) -> dict[str, Transport]:
    return {"transport": wired(settings)["transport"]}


def test_auto_review_sends_as_before(engine: Engine, settings: Settings) -> None:
    import_docs(engine, week_of(NOW - timedelta(hours=1), 2), now=NOW - timedelta(hours=1))
    with session_scope(engine) as session:
        add_readers(session, 1)
    outcome = schedule.weekly_run(engine, settings, **wired(settings), now=NOW)
    assert "sent" in outcome
    with session_scope(engine, read_only=True) as session:
        assert session.get(Issue, 1) is not None
        assert session.get(Issue, 1).status == IssueStatus.SENT  # type: ignore[union-attr]
