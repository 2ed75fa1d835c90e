"""A body part's bytes exactly as the email package writes them, the frozen text encoded once.

`EmailMessage.set_content(text, charset="utf-8")` under the SMTP policy with 7-bit bodies
re-encodes the whole ~28 KB issue for every recipient (~4 ms, mostly quoted-printable in pure
Python). Here a body comes as pieces: the issue's frozen text at even positions (the same
objects for every recipient) and one recipient's values (links, greeting) at odd positions.
Quoted-printable maps byte by byte, so the frozen pieces are mapped once and cached by their
text; per recipient only the values are mapped, then the lines are broken as the package breaks
them. The choice (7bit, quoted-printable or base64, from the length of the lines and the first
ten of them) is the package's, made on the whole body, so it is the same for the same text.
tests/transports/test_mime_oracle.py proves the bytes equal the package's on many bodies.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

MAX_LINE = 78  # email.policy.SMTP.max_line_length: the package's line limit for every choice
SNIFF_LINES = 10  # the package weighs quoted-printable against base64 on the first ten lines
BASE64_LINE = MAX_LINE // 4 * 4  # 76 characters: 57 bytes per line, as the package writes them
# Quoted-printable body map (RFC 2045): printable ASCII but "=", space and tab stay; line ends
# stay for the line breaking below; every other byte becomes =XX.
_QP_MAP = [
    chr(byte) if (32 <= byte <= 126 and byte != 61) or byte in (9, 10, 13) else f"={byte:02X}"
    for byte in range(256)
]


Run = tuple[str, bool]  # a stretch of one mapped line, and whether it is frozen text


@dataclass(frozen=True)
class Piece:
    data: bytes  # UTF-8
    first: str | None  # the mapped text up to the first line end (None: the piece is empty)
    ends_first: bool  # a line end follows `first`
    middle: tuple[tuple[Run, ...], ...]  # the whole lines after it, each one run
    last: str | None  # the text after the last line end, if any: it goes on in the next piece


# The caches are bounded (a few issues and topic variants: ~8 pieces per copy, tens of MB at
# the very most); a piece that fell out is mapped again, which costs time, never correctness.
@lru_cache(maxsize=256)
def frozen_piece(text: str) -> Piece:
    """A piece of the issue's frozen text, mapped once per issue."""
    return encoded_piece(text, frozen=True)


def encoded_piece(text: str, *, frozen: bool = False) -> Piece:
    data = text.encode("utf-8")
    mapped = data.decode("latin-1").translate(_QP_MAP)
    runs = mapped.splitlines()
    if not runs:
        return Piece(data, None, False, (), None)
    ends_line = mapped.endswith(("\r", "\n"))
    whole = runs[1:] if ends_line else runs[1:-1]
    last = runs[-1] if len(runs) > 1 and not ends_line else None
    ends_first = len(runs) > 1 or ends_line
    return Piece(data, runs[0], ends_first, tuple(((run, frozen),) for run in whole), last)


def encode_body(pieces: Sequence[str]) -> tuple[str, str]:
    """(Content-Transfer-Encoding, payload with "\\n" line ends) for `"".join(pieces)`.

    Pieces at even positions are cached (the frozen text); a lone surrogate raises
    UnicodeEncodeError, as the email package does.
    """
    encoded = [
        (frozen_piece(piece), True) if index % 2 == 0 else (encoded_piece(piece), False)
        for index, piece in enumerate(pieces)
    ]
    data = b"".join(piece.data for piece, _ in encoded)
    lines = data.splitlines()
    if max(map(len, lines), default=0) <= MAX_LINE and data.isascii():
        return "7bit", b"\n".join(lines).decode("ascii") + "\n"
    mapped = mapped_lines(encoded)
    sniff = [chunk for line in mapped[:SNIFF_LINES] for chunk in line_chunks(line)]
    sniff_base64 = len(binascii.b2a_base64(b"\r\n".join(lines[:SNIFF_LINES]) + b"\r\n"))
    if sum(map(len, sniff)) + len(sniff) > sniff_base64:  # the package's own comparison
        return "base64", base64_lines(b"\r\n".join(lines) + b"\r\n")
    rest = [chunk for line in mapped[SNIFF_LINES:] for chunk in line_chunks(line)]
    return "quoted-printable", "\n".join([*sniff, *rest, ""])


def mapped_lines(pieces: Sequence[tuple[Piece, bool]]) -> list[Sequence[Run]]:
    """The body's mapped lines, each as the runs of the pieces it is made of."""
    lines: list[Sequence[Run]] = []
    line: list[Run] = []
    after_cr = False
    for piece, frozen in pieces:
        if piece.first is None:
            continue
        # A CR ending one piece and an LF starting the next are one line end, as in the body:
        # the empty first line of this piece is the rest of that line end.
        if not (after_cr and piece.data.startswith(b"\n")):
            line.append((piece.first, frozen))
            if piece.ends_first:
                lines.append(line)
                line = []
        lines.extend(piece.middle)
        if piece.last is not None:
            line = [(piece.last, frozen)]
        after_cr = piece.data.endswith(b"\r")
    return [*lines, line] if line else lines


def line_chunks(line: Sequence[Run]) -> Sequence[str]:
    """A whole line of frozen text is cut once per issue; any other line now."""
    if len(line) == 1 and line[0][1]:
        return frozen_line(line[0][0])
    return qp_line(line)


@lru_cache(maxsize=4096)
def frozen_line(text: str) -> tuple[str, ...]:
    return tuple(qp_line(((text, True),)))


def qp_line(runs: Sequence[Run]) -> list[str]:
    """One mapped line as quoted-printable lines of at most 78 characters, cut where the
    package cuts: never inside an =XX, a space or tab at the end made visible. Cuts that fall
    inside one frozen run depend only on where in the run they begin: cached."""
    line = "".join(text for text, _ in runs)
    chunks: list[str] = []
    start, last_start = 0, len(line) - 1 - MAX_LINE
    begin, index = 0, 0  # the run that holds `start`, and where it begins in the line
    while start <= last_start:
        while begin + len(runs[index][0]) <= start:
            begin, index = begin + len(runs[index][0]), index + 1
        text, frozen = runs[index]
        if frozen and start + MAX_LINE + 1 <= begin + len(text):
            cuts, resume = frozen_cuts(text, start - begin)
            chunks.extend(cuts)
            start = begin + resume
        else:
            start = cut_once(line, start, chunks)
    return [*chunks, *line_end(line, start, last_start)]


@lru_cache(maxsize=256)
def frozen_cuts(text: str, start: int) -> tuple[tuple[str, ...], int]:
    """The cuts from `start` while the next one lies inside `text`; where the next begins."""
    chunks: list[str] = []
    while start + MAX_LINE + 1 <= len(text):
        start = cut_once(text, start, chunks)
    return tuple(chunks), start


def cut_once(line: str, start: int, chunks: list[str]) -> int:
    """One soft-broken line from `start`; returns where the next begins."""
    stop = start + MAX_LINE - 1
    if line[stop - 2] == "=":  # the escape's own "=" ends the line as its soft break
        chunks.append(line[start : stop - 1])
        return stop - 2
    if line[stop - 1] == "=":
        chunks.append(line[start:stop])
        return stop - 1
    chunks.append(line[start:stop] + "=")
    return stop


def line_end(line: str, start: int, last_start: int) -> list[str]:
    """The rest of the line; a space or tab at its end is made visible."""
    if not line or line[-1] not in " \t":
        return [line[start:]]
    room, quoted = start - last_start, f"={ord(line[-1]):02X}"
    if room >= 3:
        return [line[start:-1] + quoted]
    if room == 2:
        return [line[start:-1] + line[-1] + "=\n"]
    return [line[start:-1] + "=\n" + quoted]


def base64_lines(data: bytes) -> str:
    """Base64 in lines of 76 characters, each ending in "\\n"."""
    encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
    return "".join(
        encoded[at : at + BASE64_LINE] + "\n" for at in range(0, len(encoded), BASE64_LINE)
    )
