"""What every CLI command shares: settings, an engine, time parsing and the console."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from digest.config import Settings, get_settings
from digest.db import make_engine

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def load_settings() -> Settings:
    return get_settings()


def open_engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url)


def parse_time(value: str | None, *, option: str = "--now") -> datetime:
    """An ISO 8601 time with a zone ("2026-11-16T08:00:00Z"); None means the current time."""
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time; write e.g. 2026-11-16T08:00:00Z", param_hint=option
        ) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no time zone; add one, e.g. {value}Z or {value}+01:00",
            param_hint=option,
        )
    return parsed.astimezone(UTC)


NowOption = Annotated[
    str | None,
    typer.Option(
        "--now", help="Act as if it were this time (ISO 8601 with zone). For tests and replays."
    ),
]
