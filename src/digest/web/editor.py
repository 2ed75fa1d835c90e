"""Editor pages: GET /editor/preview, POST /editor/issue, POST /editor/test-send, login/logout.

Every route answers 404 while DIGEST_EDITOR_PASSWORD is unset, and needs the editor's session
(and, for forms, its CSRF token): the `editor_auth` dependencies see to both. GET never changes
state.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from digest import catalog, delivery, issues, throttle
from digest.config import Settings
from digest.db import session_scope
from digest.errors import DigestError, InvalidInput, NothingToSend
from digest.render import passed, public_copy
from digest.web import editor_auth as auth
from digest.web.deps import SettingsDep, get_engine, get_transport, now
from digest.web.editor_auth import EditorEnabled, EditorForm, EditorSession
from digest.web.fallback import redirect_to
from digest.web.forms import BadBody, read_fields
from digest.web.pages import render_page

router = APIRouter(prefix="/editor", tags=["editor"])

FAILED_LOGIN_DELAY = 0.5  # seconds: slows password guessing without locking anyone out
TEST_SEND_LIMIT = 20  # test copies per hour, all editors together
TEST_SEND_WINDOW = timedelta(hours=1)
NOTICES = {
    "saved": "Saved. The preview below uses the new subject and note.",
    "sent": "Test copy sent through the configured transport.",
}
SAMPLE_NAME = "Ann"  # the preview greets one frame by name, the other as a nameless reader


@router.get("")
@router.get("/")
def editor_home(request: Request, _settings: EditorEnabled) -> Response:
    return redirect_to(request, "/editor/preview")


@router.get("/login")
def login_form(request: Request, _settings: EditorEnabled) -> Response:
    return render_page(request, "editor_login.html", {"error": None})


@router.post("/login")
async def login(request: Request, settings: EditorEnabled) -> Response:
    try:
        fields, _ = await read_fields(request)
    except BadBody as exc:
        return _login_page(request, str(exc).capitalize() + ".", status_code=exc.status)
    engine = get_engine(request)
    if not await run_in_threadpool(auth.login_allowed, engine, request, now=now()):
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        minutes = int(auth.LOGIN_WINDOW.total_seconds() // 60)
        return _login_page(request, f"Too many attempts. Wait {minutes} minutes, then try again.")
    if not auth.password_matches(settings, fields.get("password", "")):
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        return _login_page(request, "That password is not right.")
    response = redirect_to(request, "/editor/preview")
    await run_in_threadpool(auth.start_session, settings, engine, response, now=now())
    return response


def _login_page(request: Request, error: str, *, status_code: int = 401) -> Response:
    return render_page(request, "editor_login.html", {"error": error}, status_code=status_code)


@router.post("/logout")
def logout(request: Request, form: EditorForm) -> Response:
    """End the session on the server (the cookie is worthless afterwards, wherever it is)."""
    response = redirect_to(request, "/editor/login")
    auth.end_session(get_engine(request), form.session_id, response)
    return response


@router.get("/preview")
def preview_page(
    request: Request,
    settings: SettingsDep,
    session_id: EditorSession,
    notice: str = "",
    topics: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The next issue; with `topics`, the variant readers of those topics get."""
    return _render_preview(
        request, settings, session_id, notice=NOTICES.get(notice), topics=topics or []
    )


@router.post("/issue")
def save_overrides(request: Request, settings: SettingsDep, form: EditorForm) -> Response:
    """Set the next issue's subject (empty = generated) and editor's note (empty = none)."""
    subject, note = form.get("subject"), form.get("note")
    try:
        with session_scope(get_engine(request)) as session:
            issues.set_overrides(session, settings, subject=subject, note=note, now=now())
    except DigestError as exc:
        values = {"subject": subject, "note": note}
        return _render_preview(request, settings, form.session_id, error=exc.message, form=values)
    return redirect_to(request, "/editor/preview?notice=saved")


@router.post("/test-send")
def test_send(request: Request, settings: SettingsDep, form: EditorForm) -> Response:
    """One copy of the next issue to `to`, subject prefixed [TEST], via the configured transport;
    at most TEST_SEND_LIMIT an hour (a stolen session cannot turn it into a mail cannon)."""
    to = form.get("to")
    if not _test_send_allowed(request):
        error = f"At most {TEST_SEND_LIMIT} test copies an hour. Try again later."
        return _render_preview(
            request, settings, form.session_id, error=error, test_to=to, status_code=429
        )
    transport = get_transport(request)
    try:
        with session_scope(get_engine(request), read_only=True) as session:
            delivery.send_test_copy(session, settings, to=to, transport=transport, now=now())
    except DigestError as exc:
        status = 422 if isinstance(exc, InvalidInput | NothingToSend) else 502
        return _render_preview(
            request, settings, form.session_id, error=exc.message, test_to=to, status_code=status
        )
    return redirect_to(request, "/editor/preview?notice=sent")


def _test_send_allowed(request: Request) -> bool:
    with session_scope(get_engine(request)) as session:
        return throttle.allow(
            session, "editor-test-send", limit=TEST_SEND_LIMIT, window=TEST_SEND_WINDOW, now=now()
        )


def _render_preview(
    request: Request,
    settings: Settings,
    session_id: str,
    *,
    status_code: int = 200,
    topics: list[str] | None = None,
    **context: Any,
) -> Response:
    """The preview page: both widths (greeted by name, and not), the text part, subject,
    preheader, size and lint; for a topic variant when `topics` names some."""
    with session_scope(get_engine(request), read_only=True) as session:
        draft = issues.find_draft(session)
        plan = issues.next_issue(session, settings, now=now())
        offered = catalog.list_topics(session)
        try:
            chosen = _chosen(session, topics or [])
            preview: issues.Preview | None = issues.preview_next_issue(
                session, settings, now=now(), topics=chosen
            )
            empty = None
        except (NothingToSend, InvalidInput) as exc:
            preview, empty = None, exc.message
    values: dict[str, Any] = {
        "csrf": auth.csrf_token(settings, session_id),
        "preview": preview,
        "topics": [
            {"slug": t.slug, "name": t.name, "checked": t.slug in (topics or [])} for t in offered
        ],
        "sample_name": SAMPLE_NAME,
        "copy": public_copy(settings, preview.email, name=SAMPLE_NAME) if preview else None,
        "nameless": public_copy(settings, preview.email) if preview else None,
        "ready": passed(preview.checks) if preview else False,
        "empty": empty,
        "next_line": plan.describe(),  # what goes out next, and when: as the CLI says it
        "form": {
            "subject": draft.subject_override if draft else "",
            "note": draft.editor_note if draft else "",
        },
        "test_to": "",
        "notice": None,
        "error": None,
    }
    values.update(context)
    return render_page(request, "editor_preview.html", values, status_code=status_code)


def _chosen(session: Session, slugs: list[str]) -> frozenset[int] | None:
    if not slugs:
        return None
    return frozenset(t.id for t in catalog.resolve_slugs(session, slugs) if t.id is not None)
