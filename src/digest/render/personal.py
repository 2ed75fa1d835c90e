"""Join per-recipient values into an issue's frozen HTML or text without re-rendering it.

Rendering leaves markers such as `[[digest:unsubscribe_url]]` in the frozen body; `compile_body`
splits it once per issue, and `fill` joins one recipient's values in a few microseconds.
Values are inserted verbatim: callers pass URLs they built and HTML-escape them for the HTML part.
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

_MARKER = re.compile(r"\[\[digest:(" + "|".join(FIELDS) + r")\]\]")


@dataclass(frozen=True)
class CompiledBody:
    """A frozen body split at its markers: even items are literal text, odd items field names."""

    parts: tuple[str, ...]

    def fill(self, values: Mapping[str, str]) -> str:
        parts = list(self.parts)
        for index in range(1, len(parts), 2):
            parts[index] = values[parts[index]]
        return "".join(parts)

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.parts[1::2])


def compile_body(body: str) -> CompiledBody:
    return CompiledBody(tuple(_MARKER.split(body)))


def strip_markers(body: str, values: Mapping[str, str]) -> str:
    """One-off fill for pages that are not per-recipient (web archive, preview)."""
    return compile_body(body).fill(values)


def public_copy(settings: Settings, email: RenderedEmail) -> RenderedEmail:
    """A copy nobody owns (archive, preview, test send): personal links go to generic pages."""
    values = links.anonymous_values(settings)
    return RenderedEmail(
        subject=email.subject,
        preheader=email.preheader,
        html=strip_markers(email.html, {name: escape(value) for name, value in values.items()}),
        text=strip_markers(email.text, values),
    )
