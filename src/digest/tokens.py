"""Signed, purpose-scoped tokens for links in emails.

A token names one subscriber and one purpose; a token made for one purpose never verifies for
another (each purpose signs with its own salt). Confirm tokens expire in days, data tokens
("download or erase my data", emailed on request) in minutes; unsubscribe and preference tokens
do not, because an old issue's footer must keep working for years (and so they can do neither
export nor erasure: a footer travels with every forwarded issue). Tokens
that never expire carry no time stamp, so they are the same every time they are made: a resent
batch has byte-identical bodies, which the provider's idempotency check requires.

Each token also carries a short tag of the subscriber's address fingerprint (the first hex
digits of `email_hash`), checked against the row it names: a link can never act on another
reader, even if an id were ever handed out again after a purge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from base64 import urlsafe_b64encode
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

from digest.errors import TokenError

MAX_TOKEN_LENGTH = 200
TAG_LENGTH = 8


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"
    DATA = "data"


EXPIRING = frozenset({Purpose.CONFIRM, Purpose.DATA})


def address_tag(email_hash: str) -> str:
    """The part of a subscriber's address fingerprint that their tokens carry."""
    return email_hash[:TAG_LENGTH]


def make_token(
    secret: str, purpose: Purpose, subscriber_id: int, *, email_hash: str, now: datetime
) -> str:
    """A URL-safe token for `subscriber_id`; expiring purposes are stamped with `now`."""
    issued = int(now.timestamp()) if purpose in EXPIRING else 0
    values = [subscriber_id, issued, address_tag(email_hash)]
    payload = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
    if len(payload) > MAX_FAST_PAYLOAD:  # itsdangerous might compress it: let it decide
        return _serializer(secret, purpose).dumps(values)
    body = _b64(payload)
    signature = _keyed(secret, purpose).copy()
    signature.update(body)
    return f"{body.decode()}.{_b64(signature.digest()).decode()}"


def read_token(
    secret: str,
    purpose: Purpose,
    token: str,
    *,
    now: datetime,
    max_age: timedelta | None,
) -> tuple[int, str]:
    """(subscriber id, address tag) of a valid token; TokenError if forged, expired or for
    another purpose. Expiring purposes (confirm, data) are older than `max_age` at most (None: no
    limit). The caller checks the tag against the row (`tag_matches`)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("this link is incomplete or damaged")
    try:
        payload = _serializer(secret, purpose).loads(token)
    except BadSignature:
        raise TokenError("this link is not valid (it may have been cut short or altered)") from None
    subscriber_id, issued, tag = _unpack(payload)
    if (
        purpose in EXPIRING
        and max_age is not None
        and now.timestamp() - issued > max_age.total_seconds()
    ):
        raise TokenError("this link has expired")
    return subscriber_id, tag


def tag_matches(tag: str, email_hash: str) -> bool:
    return hmac.compare_digest(tag.encode(), address_tag(email_hash).encode())


def _unpack(payload: object) -> tuple[int, int, str]:
    if (
        isinstance(payload, list)
        and len(payload) == 3
        and all(isinstance(part, int) and not isinstance(part, bool) for part in payload[:2])
        and isinstance(payload[2], str)
    ):
        return payload[0], payload[1], payload[2]
    raise TokenError("this link is not valid")


def _serializer(secret: str, purpose: Purpose) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"digest.{purpose.value}")


# make_token signs two links per recipient of every issue. It writes exactly the token
# `_serializer(...).dumps` writes (itsdangerous 2.x: compact UTF-8 JSON, URL-safe base64 without
# padding, "." and HMAC-SHA1 under the "django-concat" derived key), so every link already in a
# reader's inbox still verifies, and `read_token` stays itsdangerous's (constant-time compare).
# What it saves is building the serializer, deriving the key and keying HMAC on every call: the
# HMAC is keyed once per (secret, purpose) and copied per token. tests/test_tokens.py proves the
# two agree byte for byte.
MAX_FAST_PAYLOAD = 64  # far below any payload zlib could shorten (itsdangerous would compress)


@lru_cache(maxsize=32)
def _keyed(secret: str, purpose: Purpose) -> hmac.HMAC:
    salt = f"digest.{purpose.value}".encode()
    # SHA-1 because itsdangerous derives its key so; as an HMAC key derivation it is sound.
    key = hashlib.sha1(salt + b"signer" + secret.encode()).digest()  # noqa: S324
    return hmac.new(key, digestmod=hashlib.sha1)


def _b64(data: bytes) -> bytes:
    return urlsafe_b64encode(data).rstrip(b"=")
