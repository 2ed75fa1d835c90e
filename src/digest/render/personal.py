"""Join per-recipient values into an issue's frozen HTML or text without re-rendering it.

Rendering leaves markers such as `[[digest:unsubscribe_url]]` in the frozen body; `compile_body`
splits it once per issue, and `fill` joins one recipient's values in a few microseconds.
Values are inserted verbatim: `personal_values` builds both parts' values from a reader's plain
links and name (links HTML-escaped, the greeting as an escaped line or nothing at all).
`public_copy` fills a copy nobody owns (archive, preview, test copies) with generic links.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from digest import links
from digest.config import Settings
from digest.render.engine import FIELDS, RenderedEmail
from digest.render.wrap import break_long_words
from digest.text import one_line

_MARKER = re.compile(r"\[\[digest:(" + "|".join(FIELDS) + r")\]\]")


@dataclass(frozen=True)
class CompiledBody:
    """A frozen body split at its markers: even items are literal text, odd items field names."""

    parts: tuple[str, ...]

    def fill(self, values: Mapping[str, str]) -> str:
        return "".join(self.pieces(values))

    def pieces(self, values: Mapping[str, str]) -> tuple[str, ...]:
        """The literal text (the same objects every time) with the values between."""
        parts = list(self.parts)
        for index in range(1, len(parts), 2):
            parts[index] = values[parts[index]]
        return tuple(parts)

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.parts[1::2])


GREETING_STYLE = "margin:16px 0;font-size:16px;line-height:1.5;color:#14181f"


def greeting_html(name: str | None) -> str:
    """ "Hi Ann," as one escaped paragraph, or nothing (never "Hi ,")."""
    name = one_line(name or "")
    # Filled after rendering, so the name gets its long-word breaks here (render/wrap.py).
    return f'<p style="{GREETING_STYLE}">Hi {break_long_words(escape(name))},</p>' if name else ""


def greeting_text(name: str | None) -> str:
    """A blank line and "Hi Ann,", or nothing: text templates put the marker at the start of
    a line, before a block that opens with its own blank line."""
    name = one_line(name or "")
    return f"\nHi {name},\n" if name else ""


def personal_values(
    links: Mapping[str, str], name: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """(HTML values, text values) for one recipient: `links` are plain URLs."""
    html = {field: escape(value) for field, value in links.items()}
    html["greeting"] = greeting_html(name)
    return html, {**links, "greeting": greeting_text(name)}


def compile_body(body: str) -> CompiledBody:
    return CompiledBody(tuple(_MARKER.split(body)))


def strip_markers(body: str, values: Mapping[str, str]) -> str:
    """One-off fill for pages that are not per-recipient (web archive, preview)."""
    return compile_body(body).fill(values)


def public_copy(
    settings: Settings, email: RenderedEmail, *, name: str | None = None
) -> RenderedEmail:
    """A copy nobody owns (archive, preview, test send): personal links go to generic pages;
    greeted as `name` (the editor's preview shows both forms), else not greeted at all."""
    html, text = personal_values(links.anonymous_values(settings), name)
    return RenderedEmail(
        subject=email.subject,
        preheader=email.preheader,
        html=strip_markers(email.html, html),
        text=strip_markers(email.text, text),
    )
