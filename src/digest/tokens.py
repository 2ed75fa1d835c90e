"""Signed, purpose-scoped tokens for links in emails.

A token names one subscriber and one purpose; a token made for one purpose never verifies for
another (each purpose signs with its own salt). Confirm tokens expire; unsubscribe and
preference tokens do not, because an old issue's footer must keep working for years. Tokens
that never expire carry no time stamp, so they are the same every time they are made: a resent
batch has byte-identical bodies, which the provider's idempotency check requires.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer

from digest.errors import TokenError

CONFIRM_MAX_AGE = timedelta(days=7)
MAX_TOKEN_LENGTH = 200


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"


EXPIRING = frozenset({Purpose.CONFIRM})


def make_token(secret: str, purpose: Purpose, subscriber_id: int, *, now: datetime) -> str:
    """A URL-safe token for `subscriber_id`; confirm tokens are stamped with `now`."""
    issued = int(now.timestamp()) if purpose in EXPIRING else 0
    return _serializer(secret, purpose).dumps([subscriber_id, issued])


def read_token(
    secret: str,
    purpose: Purpose,
    token: str,
    *,
    now: datetime,
    max_age: timedelta | None = CONFIRM_MAX_AGE,
) -> int:
    """The subscriber id in a valid token; TokenError if forged, expired or for another purpose."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("this link is incomplete or damaged")
    try:
        payload = _serializer(secret, purpose).loads(token)
    except BadSignature:
        raise TokenError("this link is not valid (it may have been cut short or altered)") from None
    subscriber_id, issued = _unpack(payload)
    if (
        purpose in EXPIRING
        and max_age is not None
        and now.timestamp() - issued > max_age.total_seconds()
    ):
        raise TokenError("this link has expired")
    return subscriber_id


def _unpack(payload: object) -> tuple[int, int]:
    if (
        isinstance(payload, list)
        and len(payload) == 2
        and all(isinstance(part, int) and not isinstance(part, bool) for part in payload)
    ):
        return payload[0], payload[1]
    raise TokenError("this link is not valid")


def _serializer(secret: str, purpose: Purpose) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"digest.{purpose.value}")
