"""`digest subscribers add|import|export|list|remove`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from digest.cli.common import (
    NowOption,
    console,
    load_settings,
    make_table,
    open_engine,
    parse_time,
    plain,
    shown,
)
from digest.errors import InvalidInput, NotFound

# The domain packages are imported by the functions that use them, so that every `digest`
# command (and --help) starts without them (common.py).
if TYPE_CHECKING:
    from digest.config import Settings
    from digest.models import SubscriberStatus
    from digest.readers import csv_io

app = typer.Typer(help="Add, import, export, list and erase subscribers.", no_args_is_help=True)


class StatusChoice(StrEnum):
    """The values of models.SubscriberStatus, spelled here so that building the command line
    needs no database models (tests/cli/test_lazy_imports.py keeps the two the same)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SUPPRESSED = "suppressed"
    ERASED = "erased"


StatusOption = Annotated[
    StatusChoice | None, typer.Option("--status", help="Only subscribers in this state.")
]


def subscriber_status(choice: StatusChoice | None) -> SubscriberStatus | None:
    from digest.models import SubscriberStatus

    return None if choice is None else SubscriberStatus(choice.value)


@app.command("add")
def add(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The address to add.")],
    name: Annotated[str | None, typer.Option(metavar="NAME", help="How to greet them.")] = None,
    confirmed: Annotated[
        bool,
        typer.Option(
            "--confirmed", help="They already confirmed elsewhere: skip the confirmation email."
        ),
    ] = False,
    now: NowOption = None,
) -> None:
    """Add one subscriber; without --confirmed they get a confirmation email first."""
    from digest.db import session_scope
    from digest.models import ConsentRoute
    from digest.readers import signup, subscriptions

    settings, moment = load_settings(), parse_time(now)
    engine = open_engine(settings)
    with session_scope(engine) as session:
        subscriber = subscriptions.add_subscriber(
            session, email, name=name, confirmed=confirmed, route=ConsentRoute.CLI, now=moment
        )
        if not confirmed:
            signup.queue_confirmation(session, subscriber, now=moment)
    console.print(f"Added {shown(subscriber.email)} ({shown(subscriber.status)}).")
    if not confirmed:
        _send_now(settings, moment)


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.csv",
            help="CSV with an email column and optionally a name (or first and last names): "
            "ours, or an export of Mailchimp, Substack, Buttondown or listmonk as it comes. "
            "Any number of rows, up to DIGEST_IMPORT_MAX_BYTES.",
        ),
    ],
    confirmed: Annotated[
        bool,
        typer.Option(
            "--confirmed",
            help="Every address in the file already confirmed (migrating a list): no emails.",
        ),
    ] = False,
    now: NowOption = None,
) -> None:
    """Import a CSV: all or nothing (every bad row is listed by line); known addresses are
    skipped. The file is streamed, and written in one transaction: on SQLite that holds the
    database's write lock until the import ends (minutes for a million rows), so web
    signups wait meanwhile; import a large list at a quiet hour, or on PostgreSQL."""
    from digest.db import session_scope
    from digest.readers import csv_io

    settings, moment = load_settings(), parse_time(now)
    try:
        handle = file.open("rb")
    except OSError as exc:
        raise InvalidInput(str(file), [("", exc.strerror or str(exc))]) from None
    engine = open_engine(settings)
    with handle, _import_progress(handle) as progress, session_scope(engine) as session:
        report = csv_io.import_csv(
            session,
            str(file),
            handle,
            confirmed=confirmed,
            now=moment,
            max_bytes=settings.import_max_bytes,
            limit_hint="split the file, or raise DIGEST_IMPORT_MAX_BYTES",
            progress=progress,
        )
    _print_report(report, confirmed=confirmed)
    if report.confirmations:
        _send_now(settings, moment)


@contextmanager
def _import_progress(handle: BinaryIO) -> Iterator[Callable[[int], None] | None]:
    """A bar over the file's bytes on a terminal; nothing in a pipe or a log."""
    if not console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    size = os.fstat(handle.fileno()).st_size or None  # a pipe or a device: no total
    bar = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task("importing", total=size)
        yield lambda done: bar.update(task, completed=done)


def _print_report(report: csv_io.ImportReport, *, confirmed: bool) -> None:
    state = "confirmed" if confirmed else "pending, confirmation email queued"
    added = len(report.added) - len(report.asked_to_confirm)
    console.print(f"Imported {added} new subscriber(s) ({state}).")
    if report.already_listed:
        console.print(f"Skipped {len(report.already_listed)} already on the list.")
    if report.not_readded:
        console.print(
            f"Not re-added {len(report.not_readded)} erased or suppressed address(es): "
            + _some(report.not_readded)
        )
    if report.left_before:
        console.print(
            f"Not imported {len(report.left_before)} the file marks as unsubscribed, cleaned, "
            f"blocklisted or disabled: {_some(report.left_before)}"
        )
    if report.asked_to_confirm:
        console.print(
            f"{len(report.asked_to_confirm)} never confirmed on the old list: added as pending, "
            f"with a confirmation email: {_some(report.asked_to_confirm)}"
        )


@app.command("export")
def export(
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Write here instead of standard output."),
    ] = None,
    status: StatusOption = None,
) -> None:
    """CSV of every subscriber with status and consent record (when, IP, user agent, route).
    Streamed: rows are written as they are read, whatever the size of the list."""
    from digest.db import session_scope
    from digest.readers import csv_export

    settings = load_settings()
    with session_scope(open_engine(settings), read_only=True) as session:
        readers = csv_export.export_csv(session, status=subscriber_status(status))
        lines = iter(readers)
        if out is None:
            # A terminal gets no control sequences; a pipe or file gets the data exactly.
            sys.stdout.writelines(map(plain, lines) if sys.stdout.isatty() else lines)
            return
        with out.open("w", encoding="utf-8", newline="") as handle:
            handle.writelines(lines)
    console.print(f"Wrote {readers.count} subscriber(s) to {shown(out)}.")


@app.command("list")
def list_command(status: StatusOption = None) -> None:
    """List subscribers (erased ones show only their state)."""
    from digest.db import session_scope
    from digest.readers import subscriptions

    settings = load_settings()
    with session_scope(open_engine(settings), read_only=True) as session:
        rows = subscriptions.list_subscribers(session, status=subscriber_status(status))
    if not rows:
        console.print(
            "No subscribers" + (f" with status {shown(status.value)}." if status else ".")
        )
        return
    table = make_table("Email", "Name", "Status", "Since (UTC)", "Confirmed (UTC)")
    for row in rows:
        table.add_row(
            shown(row.email or "(erased)"),
            shown(row.name or ""),
            shown(row.status),
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            row.confirmed_at.strftime("%Y-%m-%d %H:%M") if row.confirmed_at else "",
        )
    console.print(table)
    console.print(f"{len(rows)} subscriber(s).")


@app.command("remove")
def remove(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The address to erase.")],
    now: NowOption = None,
) -> None:
    """Erase a subscriber: address, name and consent details go; a one-way hash stays so that
    no later import can add the address again."""
    from digest.db import session_scope
    from digest.readers import privacy, subscriptions

    settings = load_settings()
    with session_scope(open_engine(settings)) as session:
        subscriber = subscriptions.find_by_email(session, email)
        if subscriber is None or subscriber.id is None:
            raise NotFound(f"{subscriptions.normalise_email(email)} is not on the list")
        privacy.erase_subscriber(session, subscriber.id, now=parse_time(now))
    console.print(f"Erased {shown(subscriptions.normalise_email(email))}; only its hash is kept.")


def _some(addresses: csv_io.Sample) -> str:
    listed = ", ".join(shown(address) for address in addresses)
    return listed + (" ..." if len(addresses) > len(addresses.first) else "")


def _send_now(settings: Settings, moment: datetime) -> None:
    """Best effort; whatever fails is retried by `digest serve` and the scheduler."""
    from digest.readers import mail_queue
    from digest.transports import make_transport

    engine, sent = open_engine(settings), 0
    transport = make_transport(settings)
    try:
        while batch := mail_queue.send_pending_messages(
            engine, settings, transport=transport, now=moment
        ):
            sent += batch
    finally:
        transport.close()
    console.print(f"Sent {sent} confirmation email(s); any that failed are retried later.")
