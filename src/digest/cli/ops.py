"""Operator commands: `digest db upgrade`, `digest serve`, `digest demo`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.common import (
    NowOption,
    console,
    database_label,
    err_console,
    load_settings,
    open_engine,
    parse_time,
    require_schema,
    shown,
)
from digest.cli.comparisons import comparison_table

if TYPE_CHECKING:  # imported where used, so that `digest --help` stays fast (common.py)
    from digest.config import Settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version (safe to run again)."""
    from digest import migrate

    settings = load_settings()
    migrate.upgrade(settings.database_url)
    console.print(f"Database is at schema revision {shown(migrate.current_head())}.")


def serve(
    host: Annotated[
        str | None,
        typer.Option(metavar="HOST", help="Interface to bind [default: DIGEST_HOST]."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, metavar="PORT", help="Port [default: DIGEST_PORT]."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            metavar="N",
            help="Worker processes sharing the port (1 to twice the cores, at most 32); "
            "more answer more page reads at once.",
        ),
    ] = 1,
) -> None:
    """Serve the web app: subscribe pages, archive, editor, API and webhooks."""
    from digest.web.server import serve as serve_app
    from digest.web.workers import most_workers

    if not 1 <= workers <= most_workers():
        raise typer.BadParameter(
            f"{workers} is not between 1 and {most_workers()} (twice the cores, at most 32)",
            param_hint="'--workers'",
        )
    settings = load_settings()
    engine = open_engine(settings)
    require_schema(settings, engine, command="serve")
    engine.dispose()  # the workers (or the app below) make their own
    host, port = host or settings.host, port or settings.port
    served = links_for(settings, served_url(host, port))
    raise typer.Exit(serve_app(served, host=host, port=port, workers=workers))


def served_url(host: str, port: int) -> str:
    """The address a browser on this machine uses for a server bound to host:port."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (naming the wildcard, not binding it)
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def links_for(settings: Settings, served: str) -> Settings:
    """Outside production, without DIGEST_BASE_URL, links follow the address being served
    (`digest serve --port 18090` links to :18090); a DIGEST_BASE_URL that differs is said."""
    from digest.config import Environment

    explicit = "base_url" in settings.model_fields_set
    if not explicit and settings.env is not Environment.PRODUCTION:
        err_console.print(f"Links point at {shown(served)} (set DIGEST_BASE_URL to change).")
        return settings.model_copy(update={"base_url": served})
    if settings.base_url.rstrip("/") != served:
        err_console.print(
            f"Links point at DIGEST_BASE_URL={shown(settings.base_url)}, while this server "
            f"listens on {shown(served)} (right behind a proxy; otherwise change one of them)."
        )
    return settings


def demo(now: NowOption = None) -> None:
    """Run the whole job on the embedded defaults: store, samples, the next issue."""
    from digest.demo import run_demo

    settings = load_settings()
    engine = open_engine(settings)
    result = run_demo(settings, engine, now=parse_time(now))
    report = result.imported
    console.print(f"Store: {shown(database_label(settings.database_url))}")
    console.print(
        f"Sample comparisons loaded: {report.total} "
        f"({report.comparisons_created} new, {report.comparisons_updated} updated)"
    )
    due = result.due
    if due.sendable_now:
        console.print(
            f"This run sends issue #{due.number} with {len(due.comparisons)} comparisons:"
        )
        console.print(comparison_table(list(due.comparisons)))
    if result.preview_path:
        console.print(f"Preview of the next issue: {shown(result.preview_path)}")
    if result.sent:
        console.print(shown(result.sent.note))
        if result.sent.counts:
            ledger = " · ".join(f"{k} {v}" for k, v in result.sent.counts.items())
            outbox = shown(settings.outbox_dir.resolve())
            console.print(f"Ledger: {shown(ledger)}; the emails are in {outbox}/")
    console.print(f"Next: {shown(result.after.describe())}")
    if result.after.comparisons:
        console.print(comparison_table(list(result.after.comparisons)))
