"""The desk's issue actions over real HTTP, on both engines: CSRF on every form, login,
audit, refusals that change nothing, and a double "send now" from two browsers at once that
records one request and sends once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from digest import editors, schedule
from digest.config import Settings
from digest.db import session_scope
from digest.models import AuditEntry, Issue, IssueStatus, SendRequest
from tests.support.issue_data import import_docs, week_of
from tests.support.ledger import add_readers
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings
from tests.support.wiring import wired
from tests.web.test_editor import PASSWORD, csrf_of, login, path_of

ACTIONS = ("approve", "hold", "send", "pause", "resume")


@pytest.fixture
def desk(engine: Engine, editor_settings: Settings) -> Iterator[str]:
    now = datetime.now(UTC)
    import_docs(engine, week_of(now, 3), now=now)
    with session_scope(engine) as session:
        add_readers(session, 4)
    with live_server(editor_settings) as base:
        yield base


@pytest.fixture
def editor_settings(tmp_path: Path, settings: Settings) -> Settings:
    return make_test_settings(tmp_path, settings.database_url, editor_password=PASSWORD)


def logged_in(base: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base)
    assert login(client).status_code == 303
    return client, csrf_of(client.get("/editor/audit").text)


def counts(engine: Engine) -> tuple[int, int]:
    with session_scope(engine, read_only=True) as session:
        audit = session.exec(select(func.count()).select_from(AuditEntry)).one()
        requests = session.exec(select(func.count()).select_from(SendRequest)).one()
    return audit, requests


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_needs_the_csrf_token(desk: str, engine: Engine, action: str) -> None:
    client, _token = logged_in(desk)
    before = counts(engine)
    with closing(client):
        bare = client.post(f"/editor/issues/1/{action}", data={})
        wrong = client.post(f"/editor/issues/1/{action}", data={"csrf": "f" * 64})
    with httpx.Client(base_url=desk) as stranger:
        anonymous = stranger.post(f"/editor/issues/1/{action}", data={"csrf": "f" * 64})
    assert bare.status_code == wrong.status_code == 403
    assert "Nothing was changed" in wrong.text
    assert anonymous.status_code == 303 and path_of(anonymous) == "/editor/login"
    assert counts(engine) == before


def test_approve_then_send_now_from_the_browser(
    desk: str, engine: Engine, editor_settings: Settings
) -> None:
    client, token = logged_in(desk)
    with session_scope(engine, read_only=True) as session:
        state = editors.review_state(session, editor_settings, now=datetime.now(UTC))
    with closing(client):  # closed at the end of the test
        approved = client.post(
            "/editor/issues/1/approve",
            data={"csrf": token, "content": state.content_hash or "", "back": "/editor"},
        )
        sent = client.post("/editor/issues/1/send", data={"csrf": token})
        assert not list(editor_settings.outbox_dir.glob("*.eml"))  # the request sent nothing
        audit = client.get("/editor/audit")
        schedule.desk_run(engine, editor_settings, **wired(editor_settings), now=datetime.now(UTC))
        again = client.post("/editor/issues/1/approve", data={"csrf": token})
    assert approved.status_code == 303 and path_of(approved) == "/editor?done=approved"
    assert sent.status_code == 303 and path_of(sent) == "/editor/issues/1?done=send-requested"
    assert len(list(editor_settings.outbox_dir.glob("*.eml"))) == 4
    assert audit.status_code == 200
    assert "editor (shared password)" in audit.text and "approve" in audit.text
    assert again.status_code == 409 and "already sent" in again.text


def test_two_browsers_press_send_now_at_once(
    desk: str, engine: Engine, editor_settings: Settings
) -> None:
    browsers = [logged_in(desk) for _ in range(2)]
    start = threading.Barrier(len(browsers))
    answers: list[httpx.Response] = []

    def press(client: httpx.Client, token: str) -> None:
        start.wait(timeout=30)
        answers.append(client.post("/editor/issues/1/send", data={"csrf": token}))

    threads = [threading.Thread(target=press, args=pair) for pair in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for client, _ in browsers:
        client.close()
    assert sorted(path_of(a) for a in answers) == [
        "/editor/issues/1?done=send-pending",
        "/editor/issues/1?done=send-requested",
    ]
    assert counts(engine)[1] == 1
    schedule.desk_run(engine, editor_settings, **wired(editor_settings), now=datetime.now(UTC))
    schedule.desk_run(engine, editor_settings, **wired(editor_settings), now=datetime.now(UTC))
    assert len(list(editor_settings.outbox_dir.glob("*.eml"))) == 4
    with session_scope(engine, read_only=True) as session:
        assert [i.status for i in session.exec(select(Issue)).all()] == [IssueStatus.SENT]


@pytest.mark.parametrize("number", ["99", "0", "abc", "99999999999999", "-1"])
def test_unknown_issues_are_refused(desk: str, engine: Engine, number: str) -> None:
    client, token = logged_in(desk)
    before = counts(engine)
    with closing(client):
        answers = [
            client.post(f"/editor/issues/{number}/{action}", data={"csrf": token})
            for action in ACTIONS
        ]
    assert {a.status_code for a in answers} <= {404}, [
        (a.status_code, a.text[:80]) for a in answers
    ]
    assert all("Nothing was changed" in a.text for a in answers)
    assert counts(engine) == before


def test_the_back_field_stays_on_the_desk(desk: str) -> None:
    client, token = logged_in(desk)
    with closing(client):
        answers = [
            client.post("/editor/issues/1/hold", data={"csrf": token, "back": back})
            for back in ("https://evil.example/", "//evil.example/x", "/editor/readers\r\nX: y")
        ]
    assert all(path_of(a) == "/editor/issues/1?done=held" for a in answers)


def test_saving_a_subject_after_approval_withdraws_it(
    desk: str, engine: Engine, editor_settings: Settings
) -> None:
    client, token = logged_in(desk)
    with closing(client):
        client.post("/editor/issues/1/approve", data={"csrf": token})
        with session_scope(engine, read_only=True) as session:
            assert editors.review_state(session, editor_settings, now=datetime.now(UTC)).approved
        saved = client.post("/editor/issue", data={"csrf": token, "subject": "Changed"})
    assert saved.status_code == 303
    with session_scope(engine, read_only=True) as session:
        state = editors.review_state(session, editor_settings, now=datetime.now(UTC))
        log = [(e.action, e.detail) for e in editors.recent_audit(session, target="issue 1")]
    assert not state.approved and state.issue is not None and state.issue.approved_hash is None
    assert log[0] == ("edit", "subject and note saved; approval withdrawn")
