"""The API token (DIGEST_API_TOKEN) as a bearer credential: compared in constant time, and
wrong guesses limited per client in the store, so the token cannot be guessed at line speed.

A client with API_AUTH_LIMIT wrong tokens in the window is refused (429) even with the right
one until the window ends: a guesser who hits the token while blocked learns nothing.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from enum import StrEnum

from fastapi import Request
from pydantic import SecretStr

from digest import throttle
from digest.db import session_scope
from digest.web.client import client_ip
from digest.web.deps import get_engine, now

API_AUTH_LIMIT = 10  # wrong tokens per client (IPv4 address or IPv6 /64) ...
API_AUTH_WINDOW = timedelta(minutes=15)  # ... per window


class Bearer(StrEnum):
    ABSENT = "absent"  # no Authorization header at all
    GOOD = "good"
    WRONG = "wrong"  # wrong, empty, another scheme, or no token configured
    BLOCKED = "blocked"  # too many wrong tokens from this client lately


def check_bearer(request: Request) -> Bearer:
    """Judge the request's Authorization header against DIGEST_API_TOKEN; count wrong ones."""
    header = request.headers.get("authorization")
    if header is None:
        return Bearer.ABSENT
    key = f"api-auth:{throttle.client_key(client_ip(request))}"
    with session_scope(get_engine(request)) as session:
        if throttle.hits(session, key, window=API_AUTH_WINDOW, now=now()) >= API_AUTH_LIMIT:
            return Bearer.BLOCKED
        if _matches(header, request.app.state.settings.api_token):
            return Bearer.GOOD
        throttle.allow(session, key, limit=API_AUTH_LIMIT, window=API_AUTH_WINDOW, now=now())
    return Bearer.WRONG


def _matches(header: str, token: SecretStr | None) -> bool:
    expected = token.get_secret_value() if token is not None else ""
    scheme, _, given = header.partition(" ")
    given = given.strip()
    # An empty token never matches, even if a misconfiguration left an empty expected value.
    return (
        scheme.lower() == "bearer"
        and bool(given and expected)
        and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())
    )


def retry_after() -> str:
    return str(int(API_AUTH_WINDOW.total_seconds()))
