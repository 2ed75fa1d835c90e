"""Join per-recipient values into an issue's frozen HTML or text without re-rendering it.

Rendering leaves markers such as `[[digest:unsubscribe_url]]` in the frozen body; `compile_body`
splits it once per issue, and `fill` joins one recipient's values in a few microseconds.
Values are inserted verbatim: `personal_values` builds both parts' values from a reader's plain
links and name (links HTML-escaped, the greeting as an escaped line or nothing at all).
`public_copy` fills a copy nobody owns (archive, preview, test copies) with generic links.
`compile_links` and `link_values` do the same for the confirmation and data-link emails, whose
links are also shown as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape

from markupsafe import escape as escape_as_jinja

from digest import links
from digest.config import Settings
from digest.render.engine import FIELDS, LINK_FIELDS, PersonalField, RenderedEmail, personal
from digest.render.wrap import break_long_words
from digest.text import one_line

_MARKER = re.compile(r"\[\[digest:(" + "|".join(FIELDS + LINK_FIELDS) + r")\]\]")
# The field a link's marker becomes where the link is shown as text rather than in an attribute.
SHOWN = "{}_shown"


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


def markers(fields: Iterable[str]) -> dict[str, PersonalField]:
    """Template values that print each of `fields` as its marker, for `compile_links`."""
    return {field: personal(field) for field in fields}


def compile_links(html: str) -> CompiledBody:
    """`compile_body` for a link email's HTML. A marker outside any tag (the link shown as text)
    becomes the field `SHOWN`, which `link_values` fills with the link's long-word breaks: the
    breaker saw the marker as one unit when the body was compiled (render/wrap.py)."""
    parts = list(_MARKER.split(html))
    starts = [found.start() for found in _MARKER.finditer(html)]
    for index, start in zip(range(1, len(parts), 2), starts, strict=True):
        if html.rfind("<", 0, start) <= html.rfind(">", 0, start):
            parts[index] = SHOWN.format(parts[index])
    return CompiledBody(tuple(parts))


def link_values(links: Mapping[str, str], fields: frozenset[str]) -> dict[str, str]:
    """The HTML values of plain `links` that `fields` (a `compile_links` body's) need: escaped
    as the template engine escapes, and where shown, with the breaks a full render gives a
    link standing between tags."""
    values = {}
    for field, url in links.items():
        escaped = str(escape_as_jinja(url))
        if field in fields:
            values[field] = escaped
        if SHOWN.format(field) in fields:
            values[SHOWN.format(field)] = break_long_words(escaped)
    return values


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
