"""Editor login: one shared password (DIGEST_EDITOR_PASSWORD), a signed session cookie, CSRF.

The cookie holds a random session id signed with the secret key and a timestamp (12 hours).
Forms carry an HMAC of that id, so a page on another site cannot post as the editor even if a
browser sent the cookie along (it is also SameSite=Strict and HttpOnly).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy.engine import Engine

from digest import ratelimit
from digest.config import Settings
from digest.db import session_scope

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
        return ratelimit.allow(
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
