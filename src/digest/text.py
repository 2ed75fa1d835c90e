"""What counts as a control character, and the two ways we clean text of them.

Every layer that takes text from outside (the comparison format, editor overrides, a reader's
name) and the renderer's backstop use these, so "control character" means one thing everywhere.
"""

from __future__ import annotations

import re

# C0 controls (tab, newline and carriage return aside) and the noncharacters U+FFFE/U+FFFF are
# never text a page shows, and the MJML renderer chokes on them. Lone surrogates (JSON's
# "\ud800") are no text at all: neither database can encode them.
_CONTROL_CODES = [
    *range(0x09),
    0x0B,
    0x0C,
    *range(0x0E, 0x20),
    *range(0xD800, 0xE000),
    0xFFFE,
    0xFFFF,
]
CONTROL_CHARS = re.compile("[" + "".join(re.escape(chr(code)) for code in _CONTROL_CODES) + "]")
_DROP = dict.fromkeys(_CONTROL_CODES)
# Joiners are invisible but meaningful: they hold emoji sequences and some scripts together.
_JOINERS = frozenset("\u200c\u200d")
_BLANKS = frozenset("\u200b")  # a zero-width space separates words like a space does


def strip_controls(text: str) -> str:
    """`text` without control characters; line breaks and tabs stay."""
    return text.translate(_DROP)


def one_line(text: str) -> str:
    """Visible text on one line: every kind of space or line break (NBSP, ZWSP, U+2028) becomes
    one space, other invisible characters (controls, bidi overrides) go, ends are trimmed."""
    if text.isascii() and text.isprintable():  # the common case, at C speed: only spaces
        return " ".join(text.split())
    kept = []
    for ch in text:
        if ch.isspace() or ch in _BLANKS:
            kept.append(" ")
        elif ch.isprintable() or ch in _JOINERS:
            kept.append(ch)
    return " ".join("".join(kept).split())
