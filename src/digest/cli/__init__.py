"""The `digest` command-line edge. Entry point: `main(argv)`; `app` is the Typer application.

    common.py       settings, engine, time parsing and the consoles every command shares
    comparisons.py  digest comparisons import|list
    issue.py        digest issue preview|edit|list|show, registering send.py's send and
                    review.py's approve|hold|pause|resume
    review.py       digest issue approve|hold|pause|resume N (the desk's buttons)
    worker.py       digest worker: send requests from the desk, within seconds
    send.py         digest issue send: the check first, the progress bar, exit statuses
    subscribers.py  digest subscribers add|import|export|list|remove
    topics.py       digest topics list|rename|merge
    editors.py      digest editors add|list|remove|passwd|owner (the desk's accounts)
    ops.py          digest db upgrade, serve, demo
    doctor.py       digest doctor: settings, database and schema, transport, URL, webhooks
    scheduler.py    digest scheduler (and main() for the root scheduler.py)
    bounces.py      digest bounces serve|import: bounces and complaints by mail (SMTP senders)
    bounce_server.py  the SMTP/LMTP receiver (aiosmtpd) behind `digest bounces serve`

Rule: commands translate argv into calls of the domain packages, build the transport they use
(composition roots), and turn DigestErrors into one clear line and an exit status.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

# The command modules are light: each imports its domain packages when it runs (see common.py).
from digest.cli import (
    bounces,
    comparisons,
    doctor,
    editors,
    issue,
    ledger,
    ops,
    scheduler,
    subscribers,
    topics,
    worker,
)
from digest.cli.common import err_console, shown
from digest.errors import DigestError

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError, ProgrammingError

__all__ = ["app", "main"]

app = typer.Typer(
    name="digest",
    help="Weekly AI Tool Verdicts: turn the week's comparisons into one email and deliver it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: defaults as written, no "<bool>" on flags
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Weekly AI Tool Verdicts: turn the week's comparisons into one email and deliver it."""


app.add_typer(ops.db_app, name="db")
app.add_typer(comparisons.app, name="comparisons")
app.add_typer(issue.app, name="issue")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(topics.app, name="topics")
app.add_typer(bounces.app, name="bounces")
app.add_typer(editors.app, name="editors")
app.add_typer(ledger.app, name="ledger")
app.command("serve")(ops.serve)
app.command("demo")(ops.demo)
app.command("scheduler")(scheduler.scheduler_command)
app.command("worker")(worker.worker_command)
app.command("doctor")(doctor.doctor)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        # Without standalone mode click returns (not raises) the code of a `typer.Exit(n)`.
        status = app(args=args, prog_name="digest", standalone_mode=False)
        if isinstance(status, int) and status:
            return status
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors: bad option values, unknown commands
        exc.show()  # type: ignore[attr-defined]
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("Aborted.")
        return 130
    except Exception as exc:
        if "--debug" in args:
            raise
        err_console.print(f"[red]error:[/red] {shown(_explain(exc))}")
        return 1
    return 0


def _explain(exc: Exception) -> str:
    from sqlalchemy.exc import DataError, OperationalError, ProgrammingError

    if isinstance(exc, DigestError):
        return exc.message
    if isinstance(exc, OverflowError) or (
        isinstance(exc, DataError) and "out of range" in str(exc.orig)
    ):
        # a number no row can have (SQLite: OverflowError; PostgreSQL: integer out of range)
        return "not found: that number is larger than any stored number can be"
    if isinstance(exc, OperationalError | ProgrammingError):
        return _database_problem(exc)
    return f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)"


# SQLSTATE classes of a connection that failed: 08 connection, 28 login, 3D no such database.
_UNREACHABLE_STATES = ("08", "28", "3D")
_UNREACHABLE_WORDS = ("connect", "timeout", "timed out", "refused")
_SCHEMA_STATES = ("42P01", "42703")  # undefined table, undefined column
_SCHEMA_WORDS = ("no such table", "no such column")


def _database_problem(exc: OperationalError | ProgrammingError) -> str:
    """A schema behind the code gets "digest db upgrade"; a database that cannot be reached
    gets what to check instead (upgrading could not help)."""
    first = (str(exc.orig).strip().splitlines() or [""])[0] if exc.orig else str(exc)
    state = str(getattr(exc.orig, "sqlstate", None) or "")
    lowered = first.lower()
    if state in _SCHEMA_STATES or any(word in lowered for word in _SCHEMA_WORDS):
        return f"database error: {first}. The schema is not current. Run: digest db upgrade"
    if "unable to open database" in lowered:  # SQLite: the file's folder is missing or locked
        return (
            f"cannot open the database: {first}. Check DIGEST_DATABASE_URL: the file's folder "
            "must exist and be writable by this user."
        )
    if state.startswith(_UNREACHABLE_STATES) or any(w in lowered for w in _UNREACHABLE_WORDS):
        return (
            f"cannot reach the database: {first}. Check DIGEST_DATABASE_URL (host, port, user, "
            "password, database name) and that the database server is running and accepts "
            "connections from here."
        )
    return f"database error: {first}"
