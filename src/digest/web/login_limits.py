"""How many tries an editor login gets, counted in the store (so the limits hold across web
processes): LOGIN_LIMIT attempts per client address, and ADDRESS_LIMIT failures per account
address (the shared password counts as the address "") per LOGIN_WINDOW.

A lock on an address is a weapon too: anyone who knows an editor's address could keep them
out with five wrong guesses every quarter of an hour. So a browser that has logged in to that
address before carries a signed `digest_device` cookie (OWASP's "device cookie"), and its
failures count against that browser alone: a stranger's guesses lock the strangers out, never
the editor's own browser. The cookie is no credential (the password is still asked for); a
stolen one gains its thief ADDRESS_LIMIT guesses a window, as any browser has.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy.engine import Engine

from digest import editors, throttle
from digest.config import Settings
from digest.db import session_scope
from digest.web.client import client_ip
from digest.web.editor_auth import set_desk_cookie

__all__ = [
    "ADDRESS_LIMIT",
    "DEVICE_COOKIE",
    "LOGIN_LIMIT",
    "LOGIN_WINDOW",
    "count_failure",
    "known_device",
    "login_allowed",
    "remember_device",
]

LOGIN_LIMIT = 10
ADDRESS_LIMIT = 5  # failed logins per account address per window: a slow guesser's lockout
LOGIN_WINDOW = timedelta(minutes=15)
DEVICE_COOKIE = "digest_device"
DEVICE_MAX_AGE_SECONDS = 180 * 24 * 3600  # a browser used at least twice a year stays known


def login_allowed(
    engine: Engine, request: Request, *, email: str, device: str | None, now: datetime
) -> bool:
    """At most LOGIN_LIMIT attempts per client IP per LOGIN_WINDOW, and none while the address
    (or, from a browser known to it, that browser) has ADDRESS_LIMIT failures in the window.
    Every attempt counts against the IP, so a guesser who hits the right password while
    blocked learns nothing."""
    key = f"editor-login:{throttle.client_key(client_ip(request))}"
    with session_scope(engine) as session:
        by_ip = throttle.allow(session, key, limit=LOGIN_LIMIT, window=LOGIN_WINDOW, now=now)
        failed = throttle.hits(session, _failure_key(email, device), window=LOGIN_WINDOW, now=now)
    return by_ip and failed < ADDRESS_LIMIT


def count_failure(engine: Engine, *, email: str, device: str | None, now: datetime) -> None:
    """One failed login, against the address (an unknown one too: no difference to see), or
    against the browser when it is known to that address."""
    with session_scope(engine) as session:
        key = _failure_key(email, device)
        throttle.allow(session, key, limit=0, window=LOGIN_WINDOW, now=now)
        editors.record_failed_login(session, email, now=now)


def known_device(settings: Settings, request: Request, email: str) -> str | None:
    """The id of this browser when its `digest_device` cookie is authentic, not older than
    DEVICE_MAX_AGE_SECONDS and was given for this address; otherwise None."""
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    if not cookie or len(cookie) > 200:
        return None
    try:
        signed = _signer(settings).unsign(cookie, max_age=DEVICE_MAX_AGE_SECONDS).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    device, _, address = signed.partition(".")
    return device if device and address == _address_digest(email) else None


def remember_device(
    settings: Settings, response: Response, *, email: str, device: str | None
) -> None:
    """After a successful login: this browser is known to the address (for DEVICE_MAX_AGE
    from now; the same id when it was known already)."""
    value = f"{device or secrets.token_urlsafe(16)}.{_address_digest(email)}"
    cookie = _signer(settings).sign(value).decode()
    set_desk_cookie(settings, response, DEVICE_COOKIE, cookie, max_age=DEVICE_MAX_AGE_SECONDS)


def _failure_key(email: str, device: str | None) -> str:
    if device is not None:
        return f"editor-login-dev:{device[:40]}"
    return f"editor-login-addr:{_address_digest(email)}"


def _address_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:40]


def _signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(settings.secret, salt="digest.editor-device")
