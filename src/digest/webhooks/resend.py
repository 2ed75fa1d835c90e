"""Resend's webhooks: verify the Svix signature and read the event into our own vocabulary.

Svix signs `{svix-id}.{svix-timestamp}.{raw body}` with HMAC-SHA256 under the base64 secret
after `whsec_`; the `svix-signature` header carries one or more space-separated `v1,<base64>`
(several while a secret is being rotated). We check every one in constant time, refuse
timestamps more than five minutes off. Resend's event names stop here: `parse_event` returns a
`DeliveryEvent` whose type is our `EventType`; `apply.py` applies it once per svix-id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from digest.config import MIN_WEBHOOK_KEY_BYTES, webhook_key
from digest.errors import InvalidInput
from digest.text import CONTROL_CHARS, strip_controls
from digest.webhooks.events import DeliveryEvent, EventType

TOLERANCE = timedelta(minutes=5)
MAX_ID_LENGTH = 200
EVENT_TYPES = {
    "email.delivered": EventType.DELIVERED,
    "email.bounced": EventType.BOUNCED,
    "email.complained": EventType.COMPLAINED,
    "email.opened": EventType.OPENED,
    "email.clicked": EventType.CLICKED,
}


def _refuse(problem: str) -> InvalidInput:
    return InvalidInput("webhook", [("", problem)])


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime) -> str:
    """The svix-id of a correctly signed, fresh request; InvalidInput otherwise."""
    msg_id, stamp, signatures = (
        headers.get(f"svix-{name}") or headers.get(f"webhook-{name}") or ""
        for name in ("id", "timestamp", "signature")
    )
    if not (msg_id and stamp and signatures) or len(msg_id) > 200:
        raise _refuse("missing svix-id, svix-timestamp or svix-signature header")
    # "²".isdigit() is True but int("²") fails: only plain ASCII digits are a timestamp.
    fresh = (
        stamp.isascii()
        and stamp.isdigit()
        and len(stamp) <= 20
        and abs(now.timestamp() - int(stamp)) <= TOLERANCE.total_seconds()
    )
    if not fresh:
        raise _refuse("svix-timestamp is missing, malformed or more than five minutes off")
    expected = _sign(_key(secret), msg_id, stamp, body)
    for entry in signatures.split():
        version, _, given = entry.partition(",")
        if version == "v1" and hmac.compare_digest(given.encode(), expected.encode()):
            return msg_id
    raise _refuse("no valid signature")


def _key(secret: str) -> bytes:
    key = webhook_key(secret)
    if len(key) < MIN_WEBHOOK_KEY_BYTES:  # settings refuse this at startup; never sign with b""
        raise _refuse("RESEND_WEBHOOK_SECRET is not a whsec_ base64 secret") from None
    return key


def _sign(key: bytes, msg_id: str, stamp: str, body: bytes) -> str:
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def parse_event(svix_id: str, body: bytes) -> DeliveryEvent:
    """Our reading of a Resend event; InvalidInput if the body is not one."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError also covers a 4300+ digit integer; RecursionError, absurd nesting.
        raise _refuse("body is not UTF-8 JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise _refuse("body is not an event object with a type")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise _refuse("event has no data object")
    raw_bounce = data.get("bounce")
    bounce: dict[str, Any] = raw_bounce if isinstance(raw_bounce, dict) else {}
    bounce_type = str(bounce.get("type") or "Permanent")  # Resend: email.bounced is permanent
    raw_type = strip_controls(payload["type"])[:60]
    return DeliveryEvent(
        event_id=strip_controls(svix_id),
        type=EVENT_TYPES.get(raw_type, EventType.OTHER),
        raw_type=raw_type,
        email_id=_identifier(data.get("email_id")),
        recipients=_recipients(data.get("to")),
        permanent=bounce_type.lower() in {"permanent", "hard"},
        detail=strip_controls(str(bounce.get("message") or bounce.get("subType") or ""))[:200],
    )


def _identifier(value: Any) -> str | None:
    """The provider's email id, if it is one we could have stored (a column of 200 characters;
    PostgreSQL refuses NUL in text): anything else names no email of ours."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        return None
    return None if CONTROL_CHARS.search(value) else value


def _recipients(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(
        item
        for item in values
        if isinstance(item, str) and "@" in item and not CONTROL_CHARS.search(item)
    )[:50]
