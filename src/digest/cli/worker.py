"""`digest worker`: act on the desk's send requests ("send now", "resume") within seconds.

A long-running loop beside (or instead of) the scheduler's desk job: each turn claims open
requests in the store (one process wins each) and runs their sends with the transport built
here (the composition root). SIGTERM or SIGINT ends it cleanly: the current turn finishes (a
send in progress stops at its next batch, as the ledger allows) and the process exits 0.
`--once` does one turn and exits, for tests and cron.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType
from typing import Annotated

import typer

from digest import schedule
from digest.cli.common import (
    check_before_sending,
    console,
    err_console,
    load_settings,
    open_engine,
    require_schema,
    shown,
)
from digest.db import utcnow
from digest.delivery import Pacer
from digest.transports import make_transport

log = logging.getLogger("digest.worker")


def worker_command(
    once: Annotated[bool, typer.Option("--once", help="One turn, then exit.")] = False,
    poll: Annotated[
        float | None,
        typer.Option(
            "--poll",
            min=0.1,
            max=60,
            metavar="SECONDS",
            help="Seconds between turns [default: DIGEST_REQUEST_POLL_SECONDS].",
        ),
    ] = None,
) -> None:
    """Send what editors asked for on the desk (send now, resume), within seconds."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings()
    engine = open_engine(settings)
    require_schema(settings, engine, command="worker")
    pacer = Pacer(settings.rate_limit)
    transport = make_transport(settings, observer=pacer.observe)
    owner = f"worker:{socket.gethostname()[:40]}:{os.getpid()}"
    stop = threading.Event()
    try:
        check_before_sending(transport)
        _on_signals(stop)
        err_console.print(f"worker {shown(owner)} started; Ctrl-C or SIGTERM stops it")
        while not stop.is_set():
            for outcome in schedule.desk_run(
                engine, settings, transport=transport, pacer=pacer, now=utcnow(), owner=owner
            ):
                console.print(shown(outcome))
            if once:
                break
            stop.wait(poll or settings.request_poll_seconds)
    finally:
        transport.close()
        engine.dispose()
    err_console.print("worker stopped")


def _on_signals(stop: threading.Event) -> None:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
