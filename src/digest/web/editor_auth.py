"""Editor login: one shared password (DIGEST_EDITOR_PASSWORD), a session kept in the store,
CSRF, and the `EditorSession` / `EditorForm` dependencies every editor route takes.

The cookie holds a random session id signed with the secret key and a timestamp (12 hours);
the store holds the id's hash (`digest.sessions`), so logging out revokes the session on the
server, and a copied cookie stops working too. Forms carry an HMAC of that id, so a page on
another site cannot post as the editor even if a browser sent the cookie along (it is also
SameSite=Strict and HttpOnly). `EditorForm` reads the form itself, bounded
(`forms.read_fields`): nothing is parsed before the editor is known to be enabled and logged in.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy.engine import Engine

from digest import sessions, throttle
from digest.config import Settings
from digest.db import session_scope
from digest.web.client import client_ip
from digest.web.deps import get_engine, now
from digest.web.fallback import redirect_to
from digest.web.forms import MAX_EDITOR_FORM_BYTES, BadBody, read_fields
from digest.web.pages import render_page

COOKIE = "digest_editor"
MAX_AGE_SECONDS = 12 * 3600
SESSION_LIFETIME = timedelta(seconds=MAX_AGE_SECONDS)
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
    key = f"editor-login:{throttle.client_key(client_ip(request))}"
    with session_scope(engine) as session:
        return throttle.allow(session, key, limit=LOGIN_LIMIT, window=LOGIN_WINDOW, now=now)


def _signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(settings.secret, salt="digest.editor-session")


def start_session(settings: Settings, engine: Engine, response: Response, *, now: datetime) -> None:
    with session_scope(engine) as session:
        session_id = sessions.start_session(session, lifetime=SESSION_LIFETIME, now=now)
    response.set_cookie(
        COOKIE,
        _signer(settings).sign(session_id).decode(),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=settings.base_url.startswith("https://"),
        path="/editor",
    )


def end_session(engine: Engine, session_id: str, response: Response) -> None:
    """Revoke the session in the store and drop the cookie."""
    with session_scope(engine) as session:
        sessions.end_session(session, session_id)
    response.delete_cookie(COOKIE, path="/editor")


def session_id(settings: Settings, request: Request) -> str | None:
    """The editor's session id when the cookie is present, authentic, fresh and not revoked."""
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or len(cookie) > 200:
        return None
    try:
        found = _signer(settings).unsign(cookie, max_age=MAX_AGE_SECONDS).decode()
    except BadSignature:
        return None
    with session_scope(get_engine(request), read_only=True) as session:
        return found if sessions.session_active(session, found, now=now()) else None


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
        raise EditorRefused(redirect_to(request, "/editor/login"))
    return session


@dataclass(frozen=True)
class EditorPost:
    """A logged-in editor's form: the session id and the fields (CSRF checked)."""

    session_id: str
    fields: dict[str, str]

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


async def require_editor_form(request: Request) -> EditorPost:
    """`require_editor`, then the form, read bounded; its CSRF token must be this session's."""
    session = require_editor(request)
    try:
        fields, _ = await read_fields(request, MAX_EDITOR_FORM_BYTES)
    except BadBody as exc:
        context = {"title": "That did not work", "lines": [str(exc).capitalize() + "."]}
        page = render_page(request, "notice.html", context, status_code=exc.status)
        raise EditorRefused(page) from None
    if not csrf_ok(request.app.state.settings, session, fields.get("csrf", "")):
        context = {"title": "Form expired", "lines": ["Reload the preview and try again."]}
        raise EditorRefused(render_page(request, "notice.html", context, status_code=403))
    return EditorPost(session, fields)


EditorEnabled = Annotated[Settings, Depends(require_enabled)]
EditorSession = Annotated[str, Depends(require_editor)]
EditorForm = Annotated[EditorPost, Depends(require_editor_form)]
