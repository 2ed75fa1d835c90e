"""`digest issue preview|list` (the delivery engineer adds `send` and `show` from cli/send.py)."""

from __future__ import annotations

import typer
from rich.table import Table

from digest import issues
from digest.cli.common import console, load_settings, open_engine
from digest.db import session_scope

app = typer.Typer(help="Compose, preview, send and list weekly issues.", no_args_is_help=True)


@app.command("list")
def list_command() -> None:
    """List issues, newest first, with their status and subject."""
    settings = load_settings()
    with session_scope(open_engine(settings), read_only=True) as session:
        rows = issues.list_issues(session)
    if not rows:
        console.print("No issues yet. See the next one with: digest issue preview")
        return
    table = Table("#", "Period", "Status", "Frozen (UTC)", "Subject")
    for issue in rows:
        frozen = issue.frozen_at.strftime("%Y-%m-%d %H:%M") if issue.frozen_at else "-"
        table.add_row(str(issue.number), issue.period, issue.status, frozen, issue.subject or "-")
    console.print(table)
