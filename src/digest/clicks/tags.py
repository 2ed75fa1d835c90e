"""Signed link tokens and per-delivery tags: what a tracked URL carries.

A tracked URL is `{base}/r/{token}?t={tag}`. The token (base64 JSON and a truncated
HMAC-SHA256 under a key derived from the app secret) is signed once per issue and link and
names the issue, the link, the target and an expiry day; the redirect goes only where a valid
token says. The tag is per recipient and cheap (two keyed BLAKE2b digests
with the issue's click key): a hash of the delivery, so unique clicks can be counted without
knowing who clicked, the batch number (to tell a hit that came before its batch was even
sent), and a short check so that a made-up tag is not counted. A consenting reader's tag also
carries a signed reader id after a `~`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

from digest.errors import TokenError

MAX_TOKEN_LENGTH = 1500
MAX_TAG_LENGTH = 120
HASH_BYTES = 9
CHECK_BYTES = 3
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class TrackedLink:
    issue_id: int
    link_id: int
    url: str


@dataclass(frozen=True)
class Tag:
    delivery_hash: str | None  # None: no valid delivery part
    batch_id: int | None
    reader_id: int | None  # a consenting reader's signed id, if the tag carries one


def sign_link(secret: str, *, issue_id: int, link_id: int, url: str, expires: date) -> str:
    day = (expires - EPOCH).days
    payload = _b64(json.dumps([issue_id, link_id, day, url], separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def read_link(secret: str, token: str, *, now: datetime) -> TrackedLink:
    """The link a token names; TokenError if forged, altered, malformed or expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("this link is incomplete or damaged")
    payload, _, signature = token.rpartition(".")
    # Compared as text, so only the one spelling we issued verifies: base64 has spare bits,
    # and a changed last character could otherwise decode to the same bytes.
    if not hmac.compare_digest(_b64(_mac(secret, payload)).encode(), signature.encode()):
        raise TokenError("this link is not valid")
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        raise TokenError("this link is not valid") from None
    if not (
        isinstance(data, list)
        and len(data) == 4
        and all(type(part) is int for part in data[:3])
        and isinstance(data[3], str)
        and data[3].startswith(("https://", "http://"))
    ):
        raise TokenError("this link is not valid")
    issue_id, link_id, day, url = data
    if now.astimezone(UTC).date() > date.fromordinal(EPOCH.toordinal() + day):
        raise TokenError("this link has expired")
    return TrackedLink(issue_id, link_id, url)


def delivery_tag(key: bytes, *, delivery_id: int, batch_id: int) -> str:
    digest = _hash(key, b"d%d" % delivery_id, HASH_BYTES)
    check = _hash(key, digest + b"b%d" % batch_id, CHECK_BYTES)
    return f"{batch_id:x}-{_b64(digest + check)}"


def reader_part(secret: str, subscriber_id: int) -> str:
    """A consenting reader's id, signed (joined to the tag with `~`)."""
    return _readers(secret).dumps(subscriber_id)


def read_tag(key: bytes, secret: str, tag: str | None) -> Tag:
    """What a tag says, checked; parts that do not verify come back as None."""
    if not tag or len(tag) > MAX_TAG_LENGTH:
        return Tag(None, None, None)
    delivery, _, reader = tag.partition("~")
    delivery_hash, batch_id = _read_delivery(key, delivery)
    return Tag(delivery_hash, batch_id, _read_reader(secret, reader) if reader else None)


def client_hash(key: bytes, ip: str, user_agent: str) -> str:
    """Who asked, as a keyed hash of (IP, user agent): the raw values are never stored."""
    return _b64(_hash(key, f"{ip}\n{user_agent}".encode("utf-8", "replace"), 12))


def _read_delivery(key: bytes, part: str) -> tuple[str | None, int | None]:
    batch_hex, _, coded = part.partition("-")
    try:
        batch_id = int(batch_hex, 16) if 0 < len(batch_hex) <= 12 else None
        raw = base64.urlsafe_b64decode(coded + "=" * (-len(coded) % 4))
    except ValueError:
        return None, None
    if batch_id is None or len(raw) != HASH_BYTES + CHECK_BYTES:
        return None, None
    digest, check = raw[:HASH_BYTES], raw[HASH_BYTES:]
    if _hash(key, digest + b"b%d" % batch_id, CHECK_BYTES) != check:
        return None, None
    return _b64(digest), batch_id


def _read_reader(secret: str, part: str) -> int | None:
    try:
        value = _readers(secret).loads(part)
    except (BadSignature, ValueError):
        return None
    return value if type(value) is int else None


def _hash(key: bytes, data: bytes, size: int) -> bytes:
    return hashlib.blake2b(data, key=key, digest_size=size).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(secret: str, payload: str) -> bytes:
    mac = _link_key(secret).copy()
    mac.update(payload.encode())
    return mac.digest()[:20]


@lru_cache(maxsize=4)
def _link_key(secret: str) -> hmac.HMAC:
    """HMAC-SHA256 keyed for link tokens only (its own derived key), built once."""
    key = hashlib.sha256(b"digest.click-link\0" + secret.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


@lru_cache(maxsize=4)
def _readers(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="digest.click-reader")
