"""The JSON comparison format (docs/comparison-format.md), validated with pydantic.

A document is one comparison object, a list of them, or {"comparisons": [...]}. Fields a page
does not show are left out; on import, a field left out keeps what the store already knows
(a tool's reviews are shared by every comparison it appears in).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from digest.errors import InvalidInput
from digest.models import Persona, Verdict
from digest.text import CONTROL_CHARS

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_INT32 = 2_147_483_647  # an INTEGER column on PostgreSQL
# Times every engine stores and every conversion to UTC survives (year 1 or 9999 with an offset
# overflows, and SQLite stores what PostgreSQL would refuse).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=120)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    """Control characters are never text a page shows: refuse them, never guess."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*")
    @classmethod
    def _no_control_chars(cls, value: Any) -> Any:
        if isinstance(value, str) and (found := CONTROL_CHARS.search(value)):
            raise ValueError(f"contains the control character U+{ord(found.group()):04X}")
        return value


class ReviewIn(_Strict):
    score: int | None = Field(default=None, ge=0, le=100)
    verdict: Verdict | None = None
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None


class PricingIn(_Strict):
    entry: Annotated[Text, StringConstraints(max_length=60)] | None = None
    text: Annotated[Text, StringConstraints(max_length=1000)] | None = None


class ToolIn(_Strict):
    slug: Slug
    name: Annotated[Text, StringConstraints(max_length=200)]
    category: Annotated[Text, StringConstraints(max_length=120)] | None = None
    tagline: Annotated[Text, StringConstraints(max_length=500)] | None = None
    description: Annotated[Text, StringConstraints(max_length=5000)] | None = None
    pricing: PricingIn | None = None
    best_for: Annotated[Text, StringConstraints(max_length=500)] | None = None
    community_votes: int | None = Field(default=None, ge=0, le=MAX_INT32)
    reviews: dict[Persona, ReviewIn] = Field(default_factory=dict)


class ComparisonIn(_Strict):
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=200)]
    title: Annotated[Text, StringConstraints(max_length=300)]
    url: Annotated[str, StringConstraints(max_length=1000)] | None = None
    published_at: AwareDatetime | None = None
    tools: list[ToolIn] = Field(min_length=2, max_length=4)

    @field_validator("published_at")
    @classmethod
    def _storable(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            in_utc = value.astimezone(UTC)
        except OverflowError:
            in_utc = None
        if in_utc is None or not EARLIEST <= in_utc < LATEST:
            raise ValueError(f"must lie between {EARLIEST.year} and {LATEST.year - 1}")
        return value

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("tools")
    @classmethod
    def _distinct_tools(cls, tools: list[ToolIn]) -> list[ToolIn]:
        slugs = [tool.slug for tool in tools]
        repeated = sorted({slug for slug in slugs if slugs.count(slug) > 1})
        if repeated:
            raise ValueError(f"tool {repeated[0]!r} appears twice in one comparison")
        return tools


_DOCUMENT = TypeAdapter(list[ComparisonIn])


def parse_document(source: str, raw: bytes) -> list[ComparisonIn]:
    """Decode, parse and validate one document; InvalidInput names the source and field path."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(source, [("", f"larger than {MAX_DOCUMENT_BYTES // 1_048_576} MiB")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (bad byte at offset {exc.start})"
        raise InvalidInput(source, [("", problem)]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            source, [("", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")]
        ) from None
    except (ValueError, RecursionError) as exc:  # a 4300+ digit integer, or absurd nesting
        problem = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise InvalidInput(source, [("", f"malformed JSON: {problem}")]) from None
    return validate_document(source, data)


def validate_document(source: str, data: Any) -> list[ComparisonIn]:
    """Validate already-decoded JSON data (the API's body, or a parsed file)."""
    items, prefix = _comparison_items(data)
    try:
        comparisons = _DOCUMENT.validate_python(items)
    except ValidationError as exc:
        raise InvalidInput(source, [_problem(error, prefix) for error in exc.errors()]) from None
    _reject_repeated_slugs(source, comparisons, prefix)
    return comparisons


def _comparison_items(data: Any) -> tuple[Any, str]:
    if isinstance(data, dict) and "comparisons" in data:
        if set(data) != {"comparisons"}:
            extra = sorted(set(data) - {"comparisons"})[0]
            raise InvalidInput("document", [(extra, "unexpected top-level field")])
        return data["comparisons"], "comparisons"
    if isinstance(data, list):
        return data, ""
    return [data], "-"


def _problem(error: Any, prefix: str) -> tuple[str, str]:
    location = [str(part) for part in error["loc"]]
    if prefix == "-":
        location = location[1:]
    elif prefix:
        location = [prefix, *location]
    path = ".".join(location)
    # pydantic words a bad dict key as an error on "[key]"; say which persona is wrong and why
    if error["type"] == "enum" and len(location) >= 2 and location[-1] == "[key]":
        path = ".".join(location[:-1])
        return path, f"unknown persona {error['input']!r} (expected {_personas()})"
    return path, _message(error)


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "timezone_aware":
        return "timestamp has no time zone; add one, e.g. 2026-11-16T09:00:00Z"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


def _personas() -> str:
    return ", ".join(persona.value for persona in Persona)


def _reject_repeated_slugs(source: str, comparisons: list[ComparisonIn], prefix: str) -> None:
    seen: dict[str, int] = {}
    for index, comparison in enumerate(comparisons):
        if comparison.slug in seen:
            where = f"{prefix}.{index}.slug" if prefix and prefix != "-" else f"{index}.slug"
            problem = (
                f"slug {comparison.slug!r} is already used by comparison {seen[comparison.slug]}"
            )
            raise InvalidInput(
                source,
                [(where, problem)],
            )
        seen[comparison.slug] = index
