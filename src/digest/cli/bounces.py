"""`digest bounces serve|import`: bounces and complaints for senders on their own SMTP server."""

from __future__ import annotations

import logging
import signal
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from digest.cli.common import (
    NowOption,
    console,
    err_console,
    load_settings,
    open_engine,
    parse_time,
)
from digest.errors import ConfigError, StoreUnavailable

if TYPE_CHECKING:  # imported where used, so that `digest --help` stays fast (common.py)
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from digest import bounces
    from digest.config import Settings

app = typer.Typer(help="Bounces and complaints by mail (SMTP senders, VERP).", no_args_is_help=True)
EXIT_UNFINISHED = 3
MAX_FILE_BYTES = 2_000_000


def bounce_settings() -> Settings:
    settings = load_settings()
    if settings.bounce_domain is None:
        raise ConfigError(
            "set DIGEST_BOUNCE_DOMAIN: bounces name their message only through the VERP "
            "address bounces+...@DIGEST_BOUNCE_DOMAIN that the SMTP transport sends from"
        )
    return settings


@app.command("serve")
def serve_command(
    listen: Annotated[
        str | None, typer.Option(help="host:port to listen on [default: DIGEST_BOUNCE_LISTEN].")
    ] = None,
    lmtp: Annotated[bool, typer.Option("--lmtp", help="Speak LMTP instead of SMTP.")] = False,
) -> None:
    """Receive bounces for bounces+...@DIGEST_BOUNCE_DOMAIN over SMTP (or LMTP) until stopped."""
    from digest.cli.bounce_server import make_controller

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = bounce_settings()
    where = listen or settings.bounce_listen
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"the listen address must be host:port, got {where!r}")
    controller = make_controller(
        open_engine(settings), settings, host=host.strip("[]"), port=int(port), lmtp=lmtp
    )
    stopped = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    controller.start()
    console.print(f"Receiving bounces for bounces+...@{settings.bounce_domain} on {host}:{port}")
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    console.print("Stopped.")


@app.command("import")
def import_command(
    files: Annotated[list[Path], typer.Argument(help="Bounce messages, one .eml file each.")],
    now: NowOption = None,
) -> None:
    """Read bounce and complaint messages exported from a mailbox and apply each once.

    Exit status: 0 done, 1 some file could not be read, 3 the database was away (run again).
    """
    from digest import bounces

    settings = bounce_settings()
    engine = open_engine(settings)
    moment = parse_time(now)
    kinds: Counter[str] = Counter()
    for path in files:
        raw = read_file(path)
        if raw is None:
            kinds["unreadable"] += 1
            continue
        bounce = bounces.read_bounce(raw)
        try:
            outcome = record(engine, settings, bounce, now=moment)
        except StoreUnavailable as exc:
            err_console.print(f"[yellow]Unfinished:[/yellow] {escape(exc.message)}")
            raise typer.Exit(EXIT_UNFINISHED) from None
        kinds[bounce.kind] += 1
        console.print(f"{escape(path.name)}: {escape(outcome)}", soft_wrap=True)
    console.print(" · ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())) or "no files")
    if kinds["unreadable"]:
        raise typer.Exit(1)


def record(engine: Engine, settings: Settings, bounce: bounces.Bounce, *, now: datetime) -> str:
    from digest import bounces
    from digest.db import in_store

    def apply(session: Session) -> str:
        return bounces.record_bounce(session, bounce, settings=settings, now=now)

    return in_store(engine, apply, patience=settings.db_retry_seconds, what="the import")


def read_file(path: Path) -> bytes | None:
    """At most MAX_FILE_BYTES of the file (a bounce's reason is at its top); None if unreadable."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES)
    except OSError as exc:
        err_console.print(f"[red]{escape(str(path))}: cannot read: {exc.strerror}[/red]")
        return None
