"""`digest subscribers add|import|export|list|remove`."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

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
from digest.config import Settings
from digest.db import session_scope
from digest.errors import InvalidInput, NotFound
from digest.models import ConsentRoute, SubscriberStatus
from digest.readers import csv_io, mail_queue, privacy, signup, subscriptions
from digest.transports import make_transport

app = typer.Typer(help="Add, import, export, list and erase subscribers.", no_args_is_help=True)

StatusOption = Annotated[
    SubscriberStatus | None, typer.Option("--status", help="Only subscribers in this state.")
]


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
            "ours, or an export of Mailchimp, Substack, Buttondown or listmonk as it comes.",
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
    """Import a CSV: all or nothing (bad rows are listed by line); known addresses are skipped."""
    try:
        with file.open("rb") as handle:  # bounded: /dev/zero must not exhaust memory
            raw = handle.read(csv_io.MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(str(file), [("", exc.strerror or str(exc))]) from None
    rows = csv_io.parse_csv(str(file), raw)
    settings, moment = load_settings(), parse_time(now)
    with session_scope(open_engine(settings)) as session:
        report = csv_io.import_rows(session, rows, confirmed=confirmed, now=moment)
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
    if report.message_ids:
        _send_now(settings, moment)


@app.command("export")
def export(
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Write here instead of standard output."),
    ] = None,
    status: StatusOption = None,
) -> None:
    """CSV of every subscriber with status and consent record (when, IP, user agent, route)."""
    settings = load_settings()
    with session_scope(open_engine(settings), read_only=True) as session:
        rows = subscriptions.list_subscribers(session, status=status)
    lines = csv_io.export_csv(rows)
    if out is None:
        # A terminal gets no control sequences; a pipe or file gets the data exactly.
        sys.stdout.writelines(map(plain, lines) if sys.stdout.isatty() else lines)
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(lines)
    console.print(f"Wrote {len(rows)} subscriber(s) to {shown(out)}.")


@app.command("list")
def list_command(status: StatusOption = None) -> None:
    """List subscribers (erased ones show only their state)."""
    settings = load_settings()
    with session_scope(open_engine(settings), read_only=True) as session:
        rows = subscriptions.list_subscribers(session, status=status)
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
    settings = load_settings()
    with session_scope(open_engine(settings)) as session:
        subscriber = subscriptions.find_by_email(session, email)
        if subscriber is None or subscriber.id is None:
            raise NotFound(f"{subscriptions.normalise_email(email)} is not on the list")
        privacy.erase_subscriber(session, subscriber.id, now=parse_time(now))
    console.print(f"Erased {shown(subscriptions.normalise_email(email))}; only its hash is kept.")


def _some(addresses: list[str], shown_at_most: int = 10) -> str:
    listed = ", ".join(shown(address) for address in addresses[:shown_at_most])
    return listed + (" ..." if len(addresses) > shown_at_most else "")


def _send_now(settings: Settings, moment: datetime) -> None:
    """Best effort; whatever fails is retried by `digest serve` and the scheduler."""
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
