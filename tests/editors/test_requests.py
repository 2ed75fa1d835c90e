"""Send requests on both engines: a double "send now" is one request and one send, even with
two processes (threads here, each with its own connections) acting at once beside the
scheduler; an editor's pause holds until an editor resumes; bad numbers change nothing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from digest import delivery, editors, schedule
from digest.config import ReviewMode, Settings
from digest.db import make_engine, session_scope
from digest.errors import Conflict, NotFound
from digest.models import Delivery, Issue, IssueStatus, SendRequest
from tests.support.issue_data import import_docs, week_of
from tests.support.ledger import NOW, add_readers
from tests.support.wiring import wired

ED = "ed@example.com"
LATER = NOW + timedelta(hours=30)  # Tuesday: this week's run is long past, its week is free


@pytest.fixture
def content(engine: Engine) -> None:
    import_docs(engine, week_of(LATER, 3), now=LATER)
    with session_scope(engine) as session:
        add_readers(session, 5)


def sent(settings: Settings) -> int:
    return len(list(settings.outbox_dir.glob("*.eml")))


def ask(engine: Engine, settings: Settings) -> editors.Requested:
    with session_scope(engine) as session:
        return editors.request_send(session, settings, number=1, actor=ED, now=LATER)


def test_two_clicks_are_one_request(engine: Engine, settings: Settings, content: None) -> None:
    first, second = ask(engine, settings), ask(engine, settings)
    assert first.created and not second.created and first.request.id == second.request.id
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(func.count()).select_from(SendRequest)).one() == 1
        assert [e.action for e in editors.recent_audit(session)] == ["send"]
    assert sent(settings) == 0  # asking sends nothing


def test_concurrent_clicks_and_workers_send_once(
    engine: Engine, settings: Settings, content: None
) -> None:
    """Four clicks and three workers (one of them the scheduler's desk job) at once."""
    start = threading.Barrier(7)
    errors: list[BaseException] = []

    def click() -> None:
        own = make_engine(settings.database_url)
        try:
            start.wait(timeout=30)
            with session_scope(own) as session:
                editors.request_send(session, settings, number=1, actor=ED, now=LATER)
        except Conflict as exc:  # a click after the send began (or ended: it is fast) is told so
            if "already being sent" not in exc.message and "already sent" not in exc.message:
                errors.append(exc)
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)
        finally:
            own.dispose()

    def work(owner: str) -> None:
        own = make_engine(settings.database_url)
        try:
            start.wait(timeout=30)
            for _ in range(3):  # a worker polls; the request may land after its first look
                schedule.desk_run(own, settings, **wired(settings), now=LATER, owner=owner)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=click) for _ in range(4)]
    threads += [threading.Thread(target=work, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    schedule.desk_run(engine, settings, **wired(settings), now=LATER)  # whatever is left
    schedule.maintenance_run(engine, settings, **wired(settings), now=LATER)
    with session_scope(engine, read_only=True) as session:
        requests = session.exec(select(SendRequest)).all()
        deliveries = session.exec(select(func.count()).select_from(Delivery)).one()
        issues = session.exec(select(Issue)).all()
    assert len(requests) == 1 and requests[0].open_key is None
    assert [i.status for i in issues] == [IssueStatus.SENT]
    assert deliveries == 5 and sent(settings) == 5


def test_a_pause_holds_until_an_editor_resumes(
    engine: Engine, settings: Settings, content: None
) -> None:
    with session_scope(engine) as session:
        issue = delivery.prepare_issue(session, settings, now=LATER)  # frozen and enqueued
    with session_scope(engine) as session:
        editors.pause_send(session, number=issue.number, actor=ED, now=LATER)
    schedule.maintenance_run(engine, settings, **wired(settings), now=LATER)
    with session_scope(engine, read_only=True) as session:
        held = session.get(Issue, issue.id)
        assert held is not None and held.status == IssueStatus.PAUSED and held.paused_by == ED
    assert sent(settings) == 0
    with session_scope(engine) as session:
        editors.request_resume(session, number=issue.number, actor=ED, now=LATER)
    assert sent(settings) == 0  # the request waits for a worker
    schedule.desk_run(engine, settings, **wired(settings), now=LATER)
    assert sent(settings) == 5
    with session_scope(engine, read_only=True) as session:
        actions = [e.action for e in editors.recent_audit(session, target=f"issue {issue.number}")]
    assert actions == ["send-run", "resume", "pause"]


def test_bad_requests_change_nothing(engine: Engine, settings: Settings, content: None) -> None:
    with session_scope(engine) as session:
        for number in (0, 7, 2**40):
            with pytest.raises(NotFound):
                editors.request_send(session, settings, number=number, actor=ED, now=LATER)
        with pytest.raises(NotFound):
            editors.request_resume(session, number=9, actor=ED, now=LATER)
        with pytest.raises(NotFound):  # the next issue is not even claimed yet
            editors.pause_send(session, number=1, actor=ED, now=LATER)
    with session_scope(engine) as session:
        editors.edit_issue(session, settings, subject="S", note=None, actor=ED, now=LATER)
    with session_scope(engine) as session, pytest.raises(Conflict, match="hold it instead"):
        editors.pause_send(session, number=1, actor=ED, now=LATER)
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(func.count()).select_from(SendRequest)).one() == 0
        assert [e.action for e in editors.recent_audit(session)] == ["edit"]
        draft = session.exec(select(Issue)).one()
    assert draft.status == IssueStatus.DRAFT


def test_send_now_needs_approval_when_review_is_required(
    engine: Engine, settings: Settings, content: None
) -> None:
    required = settings.model_copy(update={"review": ReviewMode.REQUIRED})
    with session_scope(engine) as session, pytest.raises(Conflict, match="not approved"):
        editors.request_send(session, required, number=1, actor=ED, now=LATER)
    with session_scope(engine) as session:
        editors.approve_issue(session, required, number=1, actor=ED, now=LATER)
    with session_scope(engine) as session:
        assert editors.request_send(session, required, number=1, actor=ED, now=LATER).created
    schedule.desk_run(engine, required, **wired(required), now=LATER)
    assert sent(settings) == 5
    with session_scope(engine) as session, pytest.raises(Conflict, match="already sent"):
        editors.request_send(session, required, number=1, actor=ED, now=LATER)
