"""`digest scheduler`: the weekly send, resumes and purges, on APScheduler (or once, for cron)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.common import (
    NowOption,
    console,
    load_settings,
    open_engine,
    parse_time,
    require_schema,
    shown,
    stop_for_transport,
    yield_cpu,
)
from digest.errors import TransportError

if TYPE_CHECKING:  # imported where used, so that `digest --help` stays fast (common.py)
    from digest.transports import Transport

log = logging.getLogger("digest.scheduler")


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
    from digest import schedule
    from digest.delivery import Pacer
    from digest.transports import make_transport

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings()
    yield_cpu(settings)  # the web answers first on a shared machine
    schedule.parse_schedule(settings.send_schedule)  # a bad schedule fails before anything runs
    engine = open_engine(settings)
    require_schema(settings, engine, command="scheduler")
    pacer = Pacer(settings.rate_limit)
    transport = make_transport(settings, observer=pacer.observe)
    try:
        _check_transport(transport, once=once)
        if once:
            moment = parse_time(now)
            for outcome in schedule.run_once(
                engine, settings, transport=transport, pacer=pacer, now=moment
            ):
                console.print(shown(outcome))
            return
        schedule.run_forever(engine, settings, transport=transport, pacer=pacer)
    finally:
        transport.close()


def _check_transport(transport: Transport, *, once: bool) -> None:
    """A refused login or key stops the scheduler before it runs anything; an outage stops a
    one-off run (cron tries again), while a long-running scheduler starts and retries hourly."""
    from digest.transports import check_transport

    try:
        log.info("transport: %s", check_transport(transport))
    except TransportError as exc:
        if once or not exc.retryable:
            stop_for_transport(transport, exc)
        log.warning("transport unreachable at start (%s); sends will be retried", exc.message)


def main(argv: list[str] | None = None) -> int:
    """The process cron/systemd runs (the root `scheduler.py`): the same as `digest scheduler`."""
    import sys

    from digest.cli import main as cli_main

    return cli_main(["scheduler", *(sys.argv[1:] if argv is None else argv)])
