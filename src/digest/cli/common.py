"""What every CLI command shares: settings, an engine, time parsing, the consoles, and `shown`,
the one way stored text reaches the terminal.

Every string that came from the store, a file, a provider or the command line goes through
`shown()` before a console prints it: Rich markup in it is escaped (a reader named `[/bold]`
must not crash a listing) and terminal control sequences are removed (no planted hyperlinks,
hidden text, cursor moves or right-to-left overrides).
"""

from __future__ import annotations

import getpass
import os
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from digest.errors import ConfigError, TransportError

# Every `digest` run imports every command module, `--help` included: the domain packages
# (SQLAlchemy, pydantic, Alembic...) are imported inside the functions that use them.
if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from digest.config import Settings
    from digest.transports import Transport

# ESC sequences whole (CSI, OSC such as OSC 8 hyperlinks, DCS/APC/PM/SOS strings), then any
# control character left: C0 but tab and newline, DEL, C1, and the bidi embeddings, overrides
# and isolates that make text read differently from what it is.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[@-Z\\-_]?",
    re.DOTALL,
)
_TERMINAL_CONTROLS = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (tab and newline kept), DEL, C1
    r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidi marks, overrides, isolates
)
# Wider than any line we print when the output is a file or a pipe: nothing is cut or wrapped.
PIPE_WIDTH = 1000


def plain(value: object) -> str:
    """Text without terminal control sequences, for output that is not Rich markup."""
    return _TERMINAL_CONTROLS.sub("", _ESCAPE_SEQUENCE.sub("", str(value)))


def shown(value: object) -> str:
    """Stored or outside text, safe to print with a console: no terminal controls, and Rich
    markup in it escaped, so it prints as written."""
    return escape(plain(value))


def _console(*, stderr: bool = False) -> Console:
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal or "COLUMNS" in os.environ else PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, emoji=False, width=width)


console = _console()
err_console = _console(stderr=True)


def make_table(*headers: str, **options: object) -> Table:
    """A table whose cells fold instead of being cut with "…": an address is never shortened."""
    table = Table(**options)  # type: ignore[arg-type]
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def database_label(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split(":", 1)[0] + ":…"


def cli_actor() -> str:
    """Who the audit log names for a CLI command: "cli:<login name>"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = str(os.getuid())
    return f"cli:{plain(user)}"


def load_settings() -> Settings:
    from digest.config import get_settings

    return get_settings()


def yield_cpu(settings: Settings) -> None:
    """Run this long-lived background command at its background priority (DIGEST_BACKGROUND_NICE,
    or the store's default) at least, before it starts any thread (Linux counts niceness per
    thread; new threads inherit it). Only ever lowered: raising a priority needs root."""
    wanted = settings.background_priority
    if wanted <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < wanted:
            os.setpriority(os.PRIO_PROCESS, 0, wanted)
    except OSError as exc:  # a sandbox that forbids it: run as started
        err_console.print(f"Could not lower the CPU priority ({exc}); running as started.")


def open_engine(settings: Settings) -> Engine:
    from digest.db import make_engine

    return make_engine(settings.database_url)


def require_schema(settings: Settings, engine: Engine, *, command: str) -> None:
    """Long-running commands start only on a schema this code can use. In development a
    database never migrated, or behind, is migrated on the spot; in production the operator
    is told what to run (migrating is a deliberate step there)."""
    from digest import migrate
    from digest.config import Environment

    state = migrate.schema_state(engine)
    if state.usable:
        return
    pending = state in (migrate.SchemaState.MISSING, migrate.SchemaState.BEHIND)
    if pending and settings.env is Environment.DEVELOPMENT:
        migrate.upgrade(settings.database_url)
        head = shown(migrate.current_head())
        err_console.print(f"Development: migrated the database to schema revision {head}.")
        return
    problem = migrate.describe_state(state, migrate.database_revision(engine))
    raise ConfigError(f"`digest {command}` will not start: the {problem}")


EXIT_UNREACHABLE = 3  # the same status as a paused send: run again later


def check_before_sending(transport: Transport) -> str:
    """Prove the transport works before anything changes; a refusal exits 1 (fix a setting),
    an outage exits 3 (run again later). Nothing is frozen or queued either way."""
    from digest.transports import check_transport

    try:
        return check_transport(transport)
    except TransportError as exc:
        stop_for_transport(transport, exc)


def stop_for_transport(transport: Transport, exc: TransportError) -> NoReturn:
    if not exc.retryable:
        raise ConfigError(
            f"the {transport.name} transport refused: {exc.message}. Nothing was changed; "
            "fix the setting (digest doctor checks them all) and run again."
        ) from None
    err_console.print(
        f"[yellow]The {transport.name} transport cannot be reached:[/yellow] "
        f"{shown(exc.message)}. Nothing was changed; run again later."
    )
    raise typer.Exit(EXIT_UNREACHABLE) from None


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
        "--now",
        metavar="TIME",
        help="Act as if it were this time (ISO 8601 with zone). For tests and replays.",
    ),
]
