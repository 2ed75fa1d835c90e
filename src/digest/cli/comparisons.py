"""`digest comparisons import|list`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from digest.cli.common import (
    NowOption,
    console,
    load_settings,
    make_table,
    open_engine,
    parse_time,
    shown,
)
from digest.errors import InvalidInput

if TYPE_CHECKING:  # imported where used, so that `digest --help` stays fast (common.py)
    from digest import catalog
    from digest.catalog import ComparisonIn

app = typer.Typer(help="Import and list the site's comparisons.", no_args_is_help=True)


def read_documents(paths: list[Path]) -> list[tuple[str, list[ComparisonIn]]]:
    """Parse and validate every file before anything is written (imports are all-or-nothing)."""
    from digest.catalog import parse_document

    documents = []
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(str(path), [("", exc.strerror or "cannot be read")]) from None
        documents.append((str(path), parse_document(str(path), raw)))
    return documents


@app.command("import")
def import_files(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE.json...", help="JSON files in the comparison format."),
    ],
    now: NowOption = None,
) -> None:
    """Import comparisons from JSON files: all or nothing; re-importing a file updates by slug."""
    from digest import catalog
    from digest.db import session_scope

    documents = read_documents(files)
    settings = load_settings()
    engine = open_engine(settings)
    with session_scope(engine) as session:
        report = catalog.import_comparisons(session, documents, now=parse_time(now))
    console.print(
        f"Imported {report.total} comparison(s) from {len(files)} file(s): "
        f"{report.comparisons_created} new, {report.comparisons_updated} updated; "
        f"tools: {report.tools_created} new, {report.tools_updated} updated."
    )


@app.command("list")
def list_command(
    since: Annotated[
        str | None,
        typer.Option(
            metavar="TIME", help="Only those published after this time (ISO 8601 with zone)."
        ),
    ] = None,
) -> None:
    """List comparisons, newest first, with each tool's panel verdict."""
    from digest import catalog
    from digest.db import session_scope

    settings = load_settings()
    with session_scope(open_engine(settings), read_only=True) as session:
        views = catalog.list_comparisons(
            session, since=parse_time(since, option="--since") if since else None
        )
    if not views:
        console.print("No comparisons yet. Import some: digest comparisons import FILE.json")
        return
    console.print(comparison_table(views))


def comparison_table(views: list[catalog.ComparisonView]) -> Table:
    table = make_table("Published (UTC)", "Slug", "Title", "Panel")
    for view in views:
        panels = " | ".join(
            f"{tv.tool.name}: {tv.panel.tally}"
            + (f", avg {tv.panel.average_score}" if tv.panel.average_score is not None else "")
            for tv in view.tools
        )
        published = view.comparison.published_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(
            published, shown(view.comparison.slug), shown(view.comparison.title), shown(panels)
        )
    return table
