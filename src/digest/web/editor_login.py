"""GET/POST /editor/login and POST /editor/logout: accounts or the shared password.

The login form carries its own CSRF token (editor_auth: the `digest_login` cookie and its
HMAC). Wrong answers are slowed (FAILED_LOGIN_DELAY) and say the same thing whether or not the
address has an account; the argon2 check runs off the event loop. A login that came from a
desk page goes back to it (`return_to`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from digest import editors
from digest.db import session_scope
from digest.web import editor_auth as auth
from digest.web import login_limits as limits
from digest.web.deps import get_engine, now
from digest.web.editor_auth import EditorEnabled, EditorForm
from digest.web.fallback import redirect_to
from digest.web.forms import BadBody, read_fields
from digest.web.pages import render_page
from digest.web.return_to import safe_next

router = APIRouter(prefix="/editor", tags=["editor"])

FAILED_LOGIN_DELAY = 0.5  # seconds: slows password guessing without locking anyone out
WRONG_SHARED = "That password is not right."
WRONG_ACCOUNT = "That address and password do not match an editor account."


@router.get("/login")
def login_form(
    request: Request, _settings: EditorEnabled, back: Annotated[str, Query(alias="next")] = ""
) -> Response:
    return login_page(request, None, status_code=200, back=safe_next(back))


@router.post("/login")
async def login(request: Request, settings: EditorEnabled) -> Response:
    try:
        fields, _ = await read_fields(request)
    except BadBody as exc:
        return login_page(request, str(exc).capitalize() + ".", status_code=exc.status)
    back = safe_next(fields.get("next", ""))
    if not auth.login_csrf_ok(settings, request, fields.get("csrf", "")):
        return login_page(request, "This form expired. Log in again.", status_code=403, back=back)
    email, password = fields.get("email", "").strip()[:320], fields.get("password", "")
    engine = get_engine(request)
    device = limits.known_device(settings, request, email)
    if not limits.login_allowed(engine, request, email=email, device=device, now=now()):
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        minutes = int(limits.LOGIN_WINDOW.total_seconds() // 60)
        error = f"Too many attempts. Wait {minutes} minutes, then try again."
        return login_page(request, error, email=email, back=back)
    check = await run_in_threadpool(
        auth.check_login, settings, engine, email=email, password=password
    )
    if not check.ok:
        limits.count_failure(engine, email=email, device=device, now=now())
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        wrong = WRONG_ACCOUNT if email else WRONG_SHARED
        return login_page(request, wrong, email=email, back=back)
    response = redirect_to(request, back or "/editor")
    auth.start_session(
        settings, engine, response, account_id=check.account_id, actor=check.actor, now=now()
    )
    limits.remember_device(settings, response, email=email, device=device)
    return response


def login_page(
    request: Request,
    error: str | None,
    *,
    status_code: int = 401,
    email: str = "",
    back: str | None = None,
) -> Response:
    """The login form with a CSRF token bound to this browser's `digest_login` cookie, and the
    desk page to go `back` to once logged in (checked by `return_to.safe_next`)."""
    settings = request.app.state.settings
    token = auth.login_token(request)
    context = {
        "error": error,
        "email": email,
        "csrf": auth.csrf_token(settings, f"login|{token}"),
        "shared": auth.enabled(settings),
        "next": back or "",
    }
    response = render_page(request, "editor_login.html", context, status_code=status_code)
    auth.set_login_cookie(settings, response, token)
    return response


@router.post("/logout")
def logout(request: Request, form: EditorForm) -> Response:
    """End the session on the server (the cookie is worthless afterwards, wherever it is)."""
    response = redirect_to(request, "/editor/login")
    engine = get_engine(request)
    with session_scope(engine) as session:
        editors.record_audit(session, form.editor.actor, "logout", now=now())
    auth.end_session(engine, form.session_id, response)
    return response
