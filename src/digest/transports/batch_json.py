"""The JSON of a batch for Resend, with the issue's frozen text escaped once per issue.

A batch is 100 copies of one issue: ~3 MB of JSON, almost all of it the same text with each
reader's links and greeting in between. Escaping it all again for every batch was the send's
largest single cost after the stdlib encoder went (issue 14). A body given as `PiecedText`
carries its pieces (`OutgoingEmail.html_parts`: frozen text at even positions, the reader's
values at odd ones); each frozen piece is escaped the first time it is seen and reused after,
each reader's value is escaped every time. JSON escapes character by character, so the
pieces' escapes joined are the whole body's escape: the bytes are exactly `orjson.dumps` of
the same document (a test holds them to it).
"""

from __future__ import annotations

import json as stdlib_json
from typing import Any

import orjson

MAX_CACHED = 1024  # frozen pieces kept (an issue and its topic variants have a few dozen)


class PiecedText(str):
    """A body that also carries the pieces it is made of (see the module docstring)."""

    pieces: tuple[str, ...]


def pieced(text: str, pieces: tuple[str, ...]) -> str:
    """`text`, carrying `pieces` if there are any (they must add up to `text`)."""
    if not pieces:
        return text
    carried = PiecedText(text)
    carried.pieces = pieces
    return carried


def encode_body(value: Any) -> bytes:
    """JSON as UTF-8 bytes (orjson: the same document as `json.dumps`, non-ASCII kept as
    UTF-8 rather than \\u escapes, which JSON allows and Resend reads). orjson refuses what
    UTF-8 cannot carry (a lone surrogate); the stdlib escapes it, as requests did before."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return stdlib_json.dumps(value, allow_nan=False).encode()


class BatchEncoder:
    """`encode_body`, with frozen pieces escaped once. Shared by a transport's threads: the
    cache is a dict (each operation atomic), and a race only escapes a piece twice."""

    def __init__(self) -> None:
        self.escaped: dict[str, bytes] = {}

    def encode(self, value: Any) -> bytes:
        if not _has_pieces(value):
            return encode_body(value)
        chunks: list[bytes] = []  # joined once at the end: a batch is ~3 MB, copied once
        try:
            for number, item in enumerate(value):
                chunks.append(b"[" if number == 0 else b",")
                self._email(item, chunks)
        except orjson.JSONEncodeError:  # a lone surrogate somewhere: the stdlib's document
            return encode_body(value)
        chunks.append(b"]")
        return b"".join(chunks)

    def _email(self, item: dict[str, Any], chunks: list[bytes]) -> None:
        for number, (key, value) in enumerate(item.items()):
            chunks += [b"{" if number == 0 else b",", orjson.dumps(key), b":"]
            if isinstance(value, PiecedText):
                self._pieces(value.pieces, chunks)
            else:
                chunks.append(orjson.dumps(value))
        chunks.append(b"}" if item else b"{}")

    def _pieces(self, pieces: tuple[str, ...], chunks: list[bytes]) -> None:
        chunks.append(b'"')
        for index, piece in enumerate(pieces):
            chunks.append(self._frozen(piece) if index % 2 == 0 else orjson.dumps(piece)[1:-1])
        chunks.append(b'"')

    def _frozen(self, piece: str) -> bytes:
        # The same str objects every copy: their hash is cached, the lookup is cheap.
        found = self.escaped.get(piece)
        if found is None:
            if len(self.escaped) >= MAX_CACHED:
                self.escaped.clear()
            found = self.escaped[piece] = orjson.dumps(piece)[1:-1]
        return found


def _has_pieces(value: Any) -> bool:
    """A batch (a list of emails) where some body carries its pieces."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        return False
    return any(isinstance(field, PiecedText) for item in value for field in item.values())
