"""Operator commands: `digest db upgrade`, `digest serve`, `digest demo`."""

from __future__ import annotations

from typing import Annotated

import typer

from digest import migrate
from digest.cli.common import NowOption, console, load_settings, open_engine, parse_time
from digest.cli.comparisons import comparison_table
from digest.demo import run_demo

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version (safe to run again)."""
    settings = load_settings()
    migrate.upgrade(settings.database_url)
    console.print(f"Database is at schema revision {migrate.current_head()}.")


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [default: DIGEST_HOST].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: DIGEST_PORT].")] = None,
) -> None:
    """Serve the web app: subscribe pages, archive, editor, API and webhooks."""
    from digest.web.server import serve as serve_app

    settings = load_settings()
    serve_app(settings, host=host or settings.host, port=port or settings.port)


def demo(now: NowOption = None) -> None:
    """Run the whole job on the embedded defaults: store, samples, the next issue."""
    settings = load_settings()
    engine = open_engine(settings)
    result = run_demo(settings, engine, now=parse_time(now))
    report = result.imported
    console.print(f"Store: {settings.database_url}")
    console.print(
        f"Sample comparisons loaded: {report.total} "
        f"({report.comparisons_created} new, {report.comparisons_updated} updated)"
    )
    if result.next_issue:
        console.print(
            f"The next weekly issue would contain {len(result.next_issue)} comparison(s):"
        )
        console.print(comparison_table(result.next_issue))
    else:
        console.print(
            "No comparisons were published in the last 7 days: the next issue would be empty."
        )
    if result.preview_path:
        console.print(f"Preview of the next issue: {result.preview_path}")
    if result.sent:
        console.print(result.sent.note)
        if result.sent.counts:
            ledger = " · ".join(f"{k} {v}" for k, v in result.sent.counts.items())
            console.print(f"Ledger: {ledger}; the emails are in {settings.outbox_dir.resolve()}/")
