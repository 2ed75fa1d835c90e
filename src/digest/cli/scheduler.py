"""`digest scheduler`: the weekly send, resumes and purges, on APScheduler (or once, for cron)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from digest import schedule
from digest.cli.common import NowOption, console, load_settings, open_engine, parse_time


def scheduler_command(
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Do what is due now (a missed weekly run within the grace, "
            "resumes, purge) and exit: for cron instead of a long-running process.",
        ),
    ] = False,
    now: NowOption = None,
) -> None:
    """Run the weekly send on DIGEST_SEND_SCHEDULE in DIGEST_TIMEZONE; resume paused sends."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings()
    schedule.parse_schedule(settings.send_schedule)  # a bad schedule fails before anything runs
    engine = open_engine(settings)
    if once:
        for outcome in schedule.run_once(engine, settings, now=parse_time(now)):
            console.print(outcome)
        return
    schedule.run_forever(engine, settings)
