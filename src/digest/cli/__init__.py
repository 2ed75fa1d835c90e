"""The `digest` command-line edge. Entry point: `main(argv)`; `app` is the Typer application.

    common.py       settings, engine, time parsing and the consoles every command shares
    comparisons.py  digest comparisons import|list
    issue.py        digest issue preview|edit|list, registering send.py's send|show
    send.py         digest issue send|show: the progress bar and exit statuses
    subscribers.py  digest subscribers add|import|export|list|remove
    topics.py       digest topics list|rename|merge
    ops.py          digest db upgrade, serve, demo
    scheduler.py    digest scheduler (and main() for the root scheduler.py)

Rule: commands translate argv into calls of the domain packages, build the transport they use
(composition roots), and turn DigestErrors into one clear line and an exit status.
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError

from digest.cli import comparisons, issue, ops, scheduler, subscribers, topics
from digest.cli.common import err_console
from digest.errors import DigestError

__all__ = ["app", "main"]

app = typer.Typer(
    name="digest",
    help="Weekly AI Tool Verdicts: turn the week's comparisons into one email and deliver it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
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
app.command("serve")(ops.serve)
app.command("demo")(ops.demo)
app.command("scheduler")(scheduler.scheduler_command)


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
        err_console.print(f"[red]error:[/red] {_explain(exc)}")
        return 1
    return 0


def _explain(exc: Exception) -> str:
    if isinstance(exc, DigestError):
        return exc.message
    if isinstance(exc, OverflowError) or (
        isinstance(exc, DataError) and "out of range" in str(exc.orig)
    ):
        # a number no row can have (SQLite: OverflowError; PostgreSQL: integer out of range)
        return "not found: that number is larger than any stored number can be"
    if isinstance(exc, OperationalError | ProgrammingError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return f"database error: {first}. Is the schema current? Run: digest db upgrade"
    return f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)"
