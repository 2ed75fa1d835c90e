"""Editor login: one shared password (DIGEST_EDITOR_PASSWORD), a signed session cookie, CSRF,
and the `EditorSession` / `EditorForm` dependencies every editor route takes.

The cookie holds a random session id signed with the secret key and a timestamp (12 hours).
Forms carry an HMAC of that id, so a page on another site cannot post as the editor even if a
browser sent the cookie along (it is also SameSite=Strict and HttpOnly).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy.engine import Engine

from digest import throttle
from digest.config import Settings
from digest.db import session_scope
from digest.web.pages import render_page

COOKIE = "digest_editor"
MAX_AGE_SECONDS = 12 * 3600
LOGIN_LIMIT = 10
LOGIN_WINDOW = timedelta(minutes=15)


def enabled(settings: Settings) -> bool:
    return settings.editor_password is not None and bool(
        settings.editor_password.get_secret_value()
    )


def password_matches(settings: Settings, given: str) -> bool:
    """Constant-time comparison (of digests, so the length leaks nothing either)."""
    if settings.editor_password is None:
        return False
    expected = hashlib.sha256(settings.editor_password.get_secret_value().encode()).digest()
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), expected)


def login_allowed(engine: Engine, request: Request, *, now: datetime) -> bool:
    """At most LOGIN_LIMIT attempts per client IP per LOGIN_WINDOW, counted in the database
    (so the limit holds across processes); every attempt counts, so a guesser who hits the
    right password while blocked learns nothing."""
    ip = request.client.host if request.client else "unknown"
    with session_scope(engine) as session:
        return throttle.allow(
            session, f"editor-login:{ip}", limit=LOGIN_LIMIT, window=LOGIN_WINDOW, now=now
        )


def _signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(settings.secret, salt="digest.editor-session")


def start_session(settings: Settings, response: Response) -> None:
    value = _signer(settings).sign(secrets.token_urlsafe(24)).decode()
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=settings.base_url.startswith("https://"),
        path="/editor",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/editor")


def session_id(settings: Settings, request: Request) -> str | None:
    """The editor's session id when the cookie is present, authentic and fresh."""
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or len(cookie) > 200:
        return None
    try:
        return _signer(settings).unsign(cookie, max_age=MAX_AGE_SECONDS).decode()
    except BadSignature:
        return None


def csrf_token(settings: Settings, session: str) -> str:
    key = settings.secret.encode()
    return hmac.new(key, f"csrf|{session}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(settings: Settings, session: str, given: str) -> bool:
    # bytes: compare_digest refuses non-ASCII str (a 500), and a forged value is just wrong
    return hmac.compare_digest(csrf_token(settings, session).encode(), given.encode())


class EditorRefused(Exception):
    """The request may not reach an editor page; `response` says why (404, login, 403)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def refusal(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EditorRefused)
    return exc.response


def not_found(request: Request) -> Response:
    context = {"title": "Not found", "lines": ["There is no page at this address."]}
    return render_page(request, "notice.html", context, status_code=404)


def require_enabled(request: Request) -> Settings:
    """The settings, while DIGEST_EDITOR_PASSWORD is set; otherwise every editor route is 404."""
    settings: Settings = request.app.state.settings
    if not enabled(settings):
        raise EditorRefused(not_found(request))
    return settings


def require_editor(request: Request) -> str:
    """The logged-in editor's session id; otherwise the login page (or 404 when disabled)."""
    settings = require_enabled(request)
    session = session_id(settings, request)
    if session is None:
        raise EditorRefused(RedirectResponse("/editor/login", status_code=303))
    return session


def require_editor_form(request: Request, csrf: Annotated[str, Form()] = "") -> str:
    """`require_editor`, plus the form's CSRF token must be this session's."""
    session = require_editor(request)
    if not csrf_ok(request.app.state.settings, session, csrf):
        context = {"title": "Form expired", "lines": ["Reload the preview and try again."]}
        raise EditorRefused(render_page(request, "notice.html", context, status_code=403))
    return session


EditorEnabled = Annotated[Settings, Depends(require_enabled)]
EditorSession = Annotated[str, Depends(require_editor)]
EditorForm = Annotated[str, Depends(require_editor_form)]
