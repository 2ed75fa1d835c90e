"""Editor login: editor accounts (`digest editors add`) or the one shared password
(DIGEST_EDITOR_PASSWORD), a session kept in the store, CSRF, and the `EditorSession` /
`DeskEditor` / `EditorForm` dependencies every editor route takes.

The cookie holds a random session id signed with the secret key and a timestamp (12 hours);
the store holds the id's hash (`digest.sessions`), so logging out revokes the session on the
server, and a copied cookie stops working too. Forms carry an HMAC of that id, so a page on
another site cannot post as the editor even if a browser sent the cookie along (it is also
SameSite=Strict and HttpOnly). `EditorForm` reads the form itself, bounded
(`forms.read_fields`): nothing is parsed before the editor is known to be enabled and logged in.

The login form has its own CSRF token before anyone is logged in: a random value in a
`digest_login` cookie and its HMAC in the form (double submit), so another site cannot log a
browser into an account of the attacker's choosing. Guesses are limited per client address
and per account address (`login_limits`, which also keeps a stranger's guesses from locking an
editor's own browser out); an unknown address is counted like a known one and costs the same
argon2 work.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy.engine import Engine

from digest import editors, sessions
from digest.config import Settings
from digest.db import session_scope
from digest.models import EditorAccount
from digest.web.deps import get_engine, now
from digest.web.fallback import redirect_to
from digest.web.forms import MAX_EDITOR_FORM_BYTES, BadBody, read_fields
from digest.web.pages import render_page
from digest.web.return_to import login_path

COOKIE = "digest_editor"
MAX_AGE_SECONDS = 12 * 3600
SESSION_LIFETIME = timedelta(seconds=MAX_AGE_SECONDS)
LOGIN_COOKIE = "digest_login"
SHARED_ACTOR = "editor (shared password)"


def enabled(settings: Settings) -> bool:
    """The shared password (DIGEST_EDITOR_PASSWORD) is set."""
    return settings.editor_password is not None and bool(
        settings.editor_password.get_secret_value()
    )


def desk_enabled(settings: Settings, engine: Engine) -> bool:
    """The editor pages exist while the shared password is set or any account does."""
    if enabled(settings):
        return True
    with session_scope(engine, read_only=True) as session:
        return editors.any_accounts(session)


@dataclass(frozen=True)
class Editor:
    """Who is logged in: an account (`email`), or the shared password (email None), which
    acts as an owner: it is the operator's key, set in the environment."""

    session_id: str
    email: str | None
    owner: bool

    @property
    def actor(self) -> str:
        """The name the audit log gives this editor."""
        return self.email or SHARED_ACTOR


def password_matches(settings: Settings, given: str) -> bool:
    """Constant-time comparison (of digests, so the length leaks nothing either)."""
    if settings.editor_password is None:
        return False
    expected = hashlib.sha256(settings.editor_password.get_secret_value().encode()).digest()
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), expected)


@dataclass(frozen=True)
class LoginCheck:
    ok: bool
    account_id: int | None = None  # None with ok: the shared password
    actor: str = SHARED_ACTOR


def check_login(settings: Settings, engine: Engine, *, email: str, password: str) -> LoginCheck:
    """The shared password when no address is given, else the account's address and password.
    Slow on purpose (argon2): run it off the event loop."""
    if not email:
        return LoginCheck(ok=enabled(settings) and password_matches(settings, password))
    with session_scope(engine, read_only=True) as session:
        account = editors.authenticate(session, email, password)
        if account is None:
            return LoginCheck(ok=False)
        return LoginCheck(ok=True, account_id=account.id, actor=account.email)


def login_token(request: Request) -> str:
    """The browser's login-form token (from its cookie), or a new one."""
    token = request.cookies.get(LOGIN_COOKIE, "")
    return token if 20 <= len(token) <= 100 and token.isascii() else secrets.token_urlsafe(24)


def set_login_cookie(settings: Settings, response: Response, token: str) -> None:
    set_desk_cookie(settings, response, LOGIN_COOKIE, token, max_age=MAX_AGE_SECONDS)


def set_desk_cookie(
    settings: Settings, response: Response, name: str, value: str, *, max_age: int
) -> None:
    """A cookie of the desk: only for /editor, never to scripts or other sites, and only over
    HTTPS when the site is served so."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=settings.base_url.startswith("https://"),
        path="/editor",
    )


def login_csrf_ok(settings: Settings, request: Request, given: str) -> bool:
    token = request.cookies.get(LOGIN_COOKIE, "")
    return bool(token) and csrf_ok(settings, f"login|{token}", given)


def _signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(settings.secret, salt="digest.editor-session")


def start_session(
    settings: Settings,
    engine: Engine,
    response: Response,
    *,
    account_id: int | None,
    actor: str,
    now: datetime,
) -> None:
    """A new session (the login is audited with it); the login form's cookie is done."""
    with session_scope(engine) as session:
        session_id = sessions.start_session(
            session, lifetime=SESSION_LIFETIME, now=now, account_id=account_id
        )
        editors.record_audit(session, actor, "login", now=now)
    response.delete_cookie(LOGIN_COOKIE, path="/editor")
    cookie = _signer(settings).sign(session_id).decode()
    set_desk_cookie(settings, response, COOKIE, cookie, max_age=MAX_AGE_SECONDS)


def end_session(engine: Engine, session_id: str, response: Response) -> None:
    """Revoke the session in the store and drop the cookie."""
    with session_scope(engine) as session:
        sessions.end_session(session, session_id)
    response.delete_cookie(COOKIE, path="/editor")


def session_id(settings: Settings, request: Request) -> str | None:
    """The editor's session id when the cookie is present, authentic, fresh and not revoked."""
    editor = current_editor(settings, request)
    return editor.session_id if editor is not None else None


def current_editor(settings: Settings, request: Request) -> Editor | None:
    """Who is logged in, when the cookie is present, authentic, fresh and not revoked; a
    shared-password session ends when DIGEST_EDITOR_PASSWORD is unset."""
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or len(cookie) > 200:
        return None
    try:
        found = _signer(settings).unsign(cookie, max_age=MAX_AGE_SECONDS).decode()
    except BadSignature:
        return None
    with session_scope(get_engine(request), read_only=True) as session:
        row = sessions.find_session(session, found, now=now())
        if row is None:
            return None
        if row.account_id is None:
            return Editor(found, None, owner=True) if enabled(settings) else None
        account = session.get(EditorAccount, row.account_id)
        return Editor(found, account.email, owner=account.owner) if account else None


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
    """The settings, while DIGEST_EDITOR_PASSWORD is set or an editor account exists;
    otherwise every editor route is 404."""
    settings: Settings = request.app.state.settings
    if not desk_enabled(settings, get_engine(request)):
        raise EditorRefused(not_found(request))
    return settings


def require_desk_editor(request: Request) -> Editor:
    """The logged-in editor; otherwise the login page, which comes back here (or 404 when
    disabled)."""
    settings = require_enabled(request)
    editor = current_editor(settings, request)
    if editor is None:
        raise EditorRefused(redirect_to(request, login_path(request)))
    # kept for the templates: the desk's navigation shows owners their Accounts link
    request.state.editor = editor
    return editor


def require_editor(request: Request) -> str:
    """The logged-in editor's session id; otherwise the login page (or 404 when disabled)."""
    return require_desk_editor(request).session_id


@dataclass(frozen=True)
class EditorPost:
    """A logged-in editor's form: the session id, the fields (CSRF checked) and the editor."""

    session_id: str
    fields: dict[str, str]
    editor: Editor

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


async def require_editor_form(request: Request) -> EditorPost:
    """`require_editor`, then the form, read bounded; its CSRF token must be this session's."""
    editor = require_desk_editor(request)
    session = editor.session_id
    try:
        fields, _ = await read_fields(request, MAX_EDITOR_FORM_BYTES)
    except BadBody as exc:
        context = {"title": "That did not work", "lines": [str(exc).capitalize() + "."]}
        page = render_page(request, "notice.html", context, status_code=exc.status)
        raise EditorRefused(page) from None
    if not csrf_ok(request.app.state.settings, session, fields.get("csrf", "")):
        lines = ["Nothing was changed. Reload the page and try again."]
        context = {"title": "Form expired", "lines": lines}
        raise EditorRefused(render_page(request, "notice.html", context, status_code=403))
    return EditorPost(session, fields, editor)


EditorEnabled = Annotated[Settings, Depends(require_enabled)]
EditorSession = Annotated[str, Depends(require_editor)]
DeskEditor = Annotated[Editor, Depends(require_desk_editor)]
EditorForm = Annotated[EditorPost, Depends(require_editor_form)]
