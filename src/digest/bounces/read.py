"""Read one bounce or complaint message into a Bounce: standard reports first (ARF, then DSN),
then the common non-standard formats; anything else is UNKNOWN, never a hard bounce.

Never raises on bad input: a message that cannot be read at all is UNKNOWN ("unreadable").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from email.message import Message

from digest.bounces.kinds import Bounce, Finding
from digest.bounces.mail import MAX_BYTES, header, header_all, originals, parse_message
from digest.bounces.plain import auto_reply, read_plain, unknown
from digest.bounces.reports import ADDRESS, read_arf, read_dsn

# Where the address a bounce was sent to (our VERP envelope sender) may show.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_PRINTABLE = re.compile(r"[^!-~]")
MAX_ID = 150


def read_bounce(raw: bytes, *, envelope_to: Sequence[str] = ()) -> Bounce:
    """What `raw` reports; `envelope_to` is the SMTP recipient it arrived for, if known."""
    message = parse_message(raw)
    if message is None:
        return Bounce(_raw_id(raw), unknown("unreadable message"), "none", tuple(envelope_to[:5]))
    try:
        finding, kind = _read(message)
        candidates = _candidates(message, envelope_to)
    except Exception as exc:  # hostile MIME can break the standard library in odd places
        finding, kind = unknown(f"unreadable message ({type(exc).__name__})"), "none"
        candidates = tuple(envelope_to[:5])
    return Bounce(_message_id(message, raw), finding, kind, candidates)


def _read(message: Message) -> tuple[Finding, str]:
    for reader, name in ((read_arf, "arf"), (read_dsn, "dsn"), (read_plain, "text")):
        finding = reader(message)
        if finding is not None:
            return finding, name
    if auto_reply(message):
        return unknown("auto-reply, not a bounce"), "none"
    return unknown("not a bounce or report we can read"), "none"


def _candidates(message: Message, envelope_to: Sequence[str]) -> tuple[str, ...]:
    """Addresses that may be our VERP sender: the envelope, the bounce's own headers, and the
    Return-Path of the quoted original (complaint reports carry it)."""
    found = [a.strip().strip("<>") for a in envelope_to[:5]]
    values = [v for name in ENVELOPE_HEADERS for v in header_all(message, name)]
    for original in originals(message)[:2]:
        values += [header(original, "Return-Path"), header(original, "X-Original-Return-Path")]
    for value in values:
        found += [m.group(0) for m in ADDRESS.finditer(value[:2000])][:5]
    unique = dict.fromkeys(address.lower() for address in found if address)
    return tuple(list(unique)[:20])


def _message_id(message: Message, raw: bytes) -> str:
    given = _PRINTABLE.sub("", header(message, "Message-ID")).strip("<>")[:MAX_ID]
    return given or _raw_id(raw)


def _raw_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw[:MAX_BYTES]).hexdigest()
