"""Join per-recipient values into an issue's frozen HTML or text without re-rendering it.

Rendering leaves markers such as `[[digest:unsubscribe_url]]` in the frozen body; `compile_body`
splits it once per issue, and `fill` joins one recipient's values in a few microseconds.
Values are inserted verbatim: callers pass URLs they built and HTML-escape anything a reader typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

FIELDS = ("unsubscribe_url", "preferences_url", "greeting_name")
_MARKER = re.compile(r"\[\[digest:(" + "|".join(FIELDS) + r")\]\]")


def marker(field: str) -> str:
    """The placeholder a template writes where `field` goes."""
    if field not in FIELDS:
        raise ValueError(f"unknown personal field {field!r}")
    return f"[[digest:{field}]]"


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
