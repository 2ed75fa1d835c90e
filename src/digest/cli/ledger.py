"""`digest ledger compact --older-than DAYS`: fold old issues' ledgers into per-issue counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from digest.cli.common import console, load_settings, open_engine

app = typer.Typer(help="The send ledger: keep it small.", no_args_is_help=True)


@app.command("compact")
def compact_command(
    older_than: Annotated[
        int, typer.Option("--older-than", min=1, help="Issues sent more than DAYS days ago.")
    ],
) -> None:
    """Replace the per-reader rows of sent issues older than DAYS by per-issue counts (what
    `digest issue show` and the desk report stay exact). One transaction per issue."""
    from digest import stats  # imported here, so that `digest --help` stays fast
    from digest.db import session_scope
    from digest.delivery import compact
    from digest.models import Issue

    engine = open_engine(load_settings())
    cutoff = datetime.now(UTC) - timedelta(days=older_than)
    with session_scope(engine, read_only=True) as session:
        issue_ids = compact.compactable(session, sent_before=cutoff)
    removed = 0
    for issue_id in issue_ids:
        with session_scope(engine) as session:
            # The desk's figures (delivered, bounced, complained...) come from the per-reader
            # rows: keep them, final, before those rows go.
            issue = session.get(Issue, issue_id)
            if issue is not None:
                stats.keep_figures(session, issue, now=datetime.now(UTC), final=True)
            removed += compact.compact_issue(session, issue_id)
    console.print(
        f"Compacted {len(issue_ids)} issue(s): {removed} delivery row(s) folded into counts."
    )
