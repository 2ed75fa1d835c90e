"""`digest ledger compact --older-than DAYS`: fold old issues' ledgers into per-issue counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.common import console, load_settings, open_engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

app = typer.Typer(help="The send ledger: keep it small.", no_args_is_help=True)


@app.command("compact")
def compact_command(
    older_than: Annotated[
        int, typer.Option("--older-than", min=1, help="Issues sent more than DAYS days ago.")
    ],
) -> None:
    """Replace the per-reader rows of sent issues older than DAYS by per-issue counts (what
    `digest issue show` and the desk report stay exact). 10,000 rows per transaction: the site
    keeps answering, and a run stopped midway (Ctrl-C) resumes where it was."""
    from digest.db import session_scope
    from digest.delivery import compact

    engine = open_engine(load_settings())
    cutoff = datetime.now(UTC) - timedelta(days=older_than)
    with session_scope(engine, read_only=True) as session:
        issue_ids = compact.compactable(session, sent_before=cutoff)
        total = compact.rows_of(session, issue_ids)
    folded = [0]  # rows, counted chunk by chunk (a stop midway reports what is done)
    try:
        with _progress_bar(total) as advance:

            def count(rows: int) -> None:
                folded[0] += rows
                advance(rows)

            for issue_id in issue_ids:
                _keep_figures(engine, issue_id)
                compact.compact_issue(engine, issue_id, progress=count)
    except KeyboardInterrupt:  # every chunk done is whole: say so, and how to finish
        console.print(
            f"Stopped: {folded[0]} delivery row(s) folded so far, the reports exact; run the "
            "same command again to finish."
        )
        raise typer.Exit(130) from None
    console.print(
        f"Compacted {len(issue_ids)} issue(s): {folded[0]} delivery row(s) folded into counts."
    )


def _keep_figures(engine: Engine, issue_id: int) -> None:
    """The desk's figures (delivered, bounced, complained...) come from the per-reader rows:
    keep them, final, before the first of those rows goes (not again on a resumed run)."""
    from digest import stats  # imported here, so that `digest --help` stays fast
    from digest.db import session_scope
    from digest.delivery import compact
    from digest.models import Issue

    with session_scope(engine) as session:
        issue = session.get(Issue, issue_id)
        if issue is not None and not compact.started(session, issue_id):
            stats.keep_figures(session, issue, now=datetime.now(UTC), final=True)


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[int], None]]:
    """A bar over the rows to fold, on a terminal (nothing on a pipe or in cron's mail)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("compacting"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with bar:
        task = bar.add_task("compacting", total=total)
        yield lambda rows: bar.advance(task, rows)
