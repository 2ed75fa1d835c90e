"""Reading a hostile message safely: bounded size, bounded structure, text that always decodes.

A bounce is input from anyone on the internet: it may be huge, nested thousands deep, carry
broken MIME, unknown charsets or megabyte headers. Everything here is capped (bytes read, parts
visited, nesting depth, characters of text and header) and never raises on bad input.
"""

from __future__ import annotations

import re
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser

MAX_BYTES = 1_000_000  # bounces are small; the reason is always near the top
MAX_PARTS = 64
MAX_DEPTH = 8
MAX_TEXT = 64_000
MAX_HEADER = 1_000
MAX_BLOCKS = 50
ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
_SPACE = re.compile(r"\s+")
_FIELD = re.compile(r"([A-Za-z0-9-]{1,60})\s*:(.*)")


def parse_message(raw: bytes) -> Message | None:
    """The message (compat32: no slow header parsing), or None when even that fails."""
    try:
        return BytesParser(policy=policy.compat32).parsebytes(raw[:MAX_BYTES])
    except (RecursionError, MemoryError, ValueError, LookupError, TypeError, IndexError):
        return None


def parts(message: Message) -> list[Message]:
    """The parts of the report itself, breadth-first, bounded; attached originals are listed
    but not entered (a quoted message may itself look like a bounce)."""
    found: list[Message] = []
    queue: list[tuple[Message, int]] = [(message, 0)]
    while queue and len(found) < MAX_PARTS:
        part, depth = queue.pop(0)
        found.append(part)
        if depth >= MAX_DEPTH or content_type(part) in ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            queue.extend(
                (child, depth + 1) for child in payload[:MAX_PARTS] if isinstance(child, Message)
            )
    return found


def originals(message: Message) -> list[Message]:
    """The attached original messages (or their headers), parsed as messages."""
    found = []
    for part in parts(message):
        if content_type(part) not in ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            found.append(payload[0])
        elif isinstance(payload, str):
            inner = parse_message(text_of(part).encode("utf-8", "replace"))
            if inner is not None:
                found.append(inner)
    return found


def content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()[:100]
    except (ValueError, TypeError, AttributeError):
        return "text/plain"


def header(message: Message, name: str) -> str:
    """One header, decoded (RFC 2047), on one line, capped; "" when absent or broken."""
    try:
        value = message.get(name)
        if value is None:
            return ""
        text = str(make_header(decode_header(str(value)[: MAX_HEADER * 4])))
    except (ValueError, LookupError, TypeError, UnicodeError, AssertionError):
        text = str(message.get(name, ""))
    return _SPACE.sub(" ", text).strip()[:MAX_HEADER]


def header_all(message: Message, name: str) -> list[str]:
    try:
        values = message.get_all(name) or []
    except (TypeError, AttributeError):
        return []
    return [_SPACE.sub(" ", str(v)).strip()[:MAX_HEADER] for v in values[:20]]


def text_of(part: Message) -> str:
    """A part's text, transfer-decoded and charset-decoded (replacing what does not decode)."""
    payload = part.get_payload()
    if isinstance(payload, list):  # message/* parsed into header blocks
        return "\n\n".join(_as_fields(block) for block in payload[:MAX_BLOCKS])[:MAX_TEXT]
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        data = None
    if not isinstance(data, bytes):
        return str(payload or "")[:MAX_TEXT]
    return _decode(data[: MAX_TEXT * 4], part.get_content_charset() or "utf-8")[:MAX_TEXT]


def _as_fields(block: object) -> str:
    if not isinstance(block, Message):
        return ""
    return "\n".join(f"{name}: {value}" for name, value in list(block.items())[:100])


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset[:40], errors="replace")
    except (LookupError, ValueError):
        return data.decode("latin-1")


def field_blocks(text: str) -> list[dict[str, str]]:
    """`Name: value` blocks separated by blank lines (RFC 3464, RFC 5965), names lower-cased,
    continuation lines joined; at most MAX_BLOCKS blocks, the first value of a name kept."""
    blocks: list[dict[str, str]] = [{}]
    name = ""
    for line in text[:MAX_TEXT].splitlines():
        if not line.strip():
            if blocks[-1] and len(blocks) < MAX_BLOCKS:
                blocks.append({})
            name = ""
        elif line[:1] in " \t" and name:
            joined = f"{blocks[-1][name]} {line.strip()}"
            blocks[-1][name] = joined[:MAX_HEADER]
        elif match := _FIELD.match(line):
            name = match.group(1).lower()
            blocks[-1].setdefault(name, match.group(2).strip()[:MAX_HEADER])
    return [block for block in blocks if block]
