"""Long words fit a phone in every mail client, without CSS the clients ignore.

caniemail: `overflow-wrap`, `word-wrap`, `white-space` and `hyphens` do nothing in Gmail,
Outlook and Yahoo, `word-break` nothing in Yahoo (and `break-word` is deprecated). So a
300-character word in a tool's name pushed the email wider than a phone. Instead:

- `break_long_words`: every run of more than `RUN` visible characters in the body's text gets a
  `<wbr>` (a break opportunity, invisible unless the line must break) every `RUN` characters;
  never inside a tag, a comment, a character reference, a personal marker, or a character
  sequence (combining marks, joiners, emoji modifiers, flags).
- `drop_wrapping_css`: those properties are removed from what MJML writes, so the HTML only
  uses CSS the clients support.
"""

from __future__ import annotations

import re
import unicodedata

RUN = 12  # characters: the widest (W, 22px bold) still fit a 375 px screen's column
EARLY = 4  # after punctuation a break may come this soon (URLs break at their / . - _)
WRAPPING = ("overflow-wrap", "word-wrap", "word-break", "white-space", "hyphens")
# Never text on the page: comments, script/style/title, any tag, and hidden blocks (the
# preheader: `<div style="display:none...">text</div>`).
_OPAQUE = re.compile(
    r"<!--.*?-->|<(script|style|title|head)\b.*?</\1\s*>"
    r"|<div style=\"display:none;[^\"]*\">[^<]*</div>|<[^>]*>",
    re.DOTALL | re.IGNORECASE,
)
# One visible unit of text: a personal marker, a character reference, or one character.
_UNIT = re.compile(r"\[\[digest:[a-z_]+\]\]|&#?[A-Za-z0-9]+;|\S|\s", re.DOTALL)
_DECLARATION = re.compile(
    r"(?<![-\w])(?:" + "|".join(WRAPPING) + r")\s*:[^;\"'}]*;?", re.IGNORECASE
)
_STYLED = re.compile(
    r"(style=\")([^\"]*)(\")|(<style\b[^>]*>)(.*?)(</style\s*>)", re.DOTALL | re.IGNORECASE
)
_JOINERS = frozenset("\u200c\u200d")
_NON_BREAKING = frozenset("\xa0\u2007\u202f")


def break_long_words(html: str) -> str:
    """`html` with `<wbr>` in every long run of text after `<body`."""
    head, marker, body = html.partition("<body")
    if not marker:
        head, body = "", html
    out, position = [], 0
    for opaque in _OPAQUE.finditer(body):
        out.append(_break_text(body[position : opaque.start()]))
        out.append(opaque.group(0))
        position = opaque.end()
    out.append(_break_text(body[position:]))
    return head + marker + "".join(out)


def drop_wrapping_css(html: str) -> str:
    """`html` without declarations of the wrapping properties the big clients ignore, in style
    attributes and style elements (never in text: content may talk about CSS)."""

    def clean(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1) + _DECLARATION.sub("", match.group(2)) + match.group(3)
        return match.group(4) + _DECLARATION.sub("", match.group(5)) + match.group(6)

    return _STYLED.sub(clean, html)


def _break_text(text: str) -> str:
    if len(text) <= RUN:
        return text
    out: list[str] = []
    run: list[str] = []
    for unit in _UNIT.findall(text):
        if unit.isspace() and unit not in _NON_BREAKING:
            out += [*_break_run(run), unit]
            run = []
        else:
            run.append(unit)
    return "".join(out + _break_run(run))


def _break_run(units: list[str]) -> list[str]:
    """One run without a breaking space; only a run longer than RUN gets break opportunities,
    after punctuation where it has some, else every RUN characters."""
    if len(units) <= RUN:
        return units
    out: list[str] = []
    since = 0
    for previous, unit in zip(["", *units], units, strict=False):
        due = since >= RUN or (since >= EARLY and _punctuation(previous))
        if due and _may_break(previous, unit):
            out.append("<wbr>")
            since = 0
        out.append(unit)
        since += 1
    return out


def _may_break(before: str, after: str) -> bool:
    """False inside a character sequence a reader sees as one symbol."""
    if len(after) == 1 and (
        unicodedata.category(after).startswith("M")
        or after in _JOINERS
        or "\U0001f3fb" <= after <= "\U0001f3ff"  # skin-tone modifiers
    ):
        return False
    if before in _JOINERS:
        return False
    return not (_regional(before) and _regional(after))


def _punctuation(unit: str) -> bool:
    """ASCII punctuation: a break after it is where a reader (and SpamAssassin, which counts
    tags between two letters as obfuscation) expects one."""
    return len(unit) == 1 and unit.isascii() and not unit.isalnum() and not unit.isspace()


def _regional(unit: str) -> bool:
    return len(unit) == 1 and "\U0001f1e6" <= unit <= "\U0001f1ff"
