"""`digest worker`: act on the desk's send requests ("send now", "resume") within seconds, and
do the readers' work (signups, "email me my link", their transactional mail) every second.

A long-running loop beside (or instead of) the scheduler's desk job: each turn claims open
requests in the store (one process wins each) and runs their sends with the transport built
here (the composition root). The readers' work runs in a thread of its own, so a weekly send
in progress never delays a confirmation; with DIGEST_WEB_SENDS_MAIL=off it is the only place
that work happens. SIGTERM or SIGINT ends it cleanly: the current turn finishes (a send in
progress stops at its next batch, as the ledger allows) and the process exits 0. `--once` does
one round of each and exits, for tests and cron.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.common import (
    check_before_sending,
    console,
    err_console,
    load_settings,
    open_engine,
    require_schema,
    shown,
    yield_cpu,
)

if TYPE_CHECKING:  # imported where used, so that `digest --help` stays fast (common.py)
    from sqlalchemy.engine import Engine

    from digest.config import Settings

log = logging.getLogger("digest.worker")
READER_WORK_SECONDS = 1.0  # how soon a stored signup gets its confirmation


def worker_command(
    once: Annotated[
        bool,
        typer.Option("--once", help="One turn (and one round of the readers' work), then exit."),
    ] = False,
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
    """Send what editors asked for on the desk (send now, resume), within seconds, and act on
    readers' signups and send their confirmations every second."""
    from digest import schedule
    from digest.db import utcnow
    from digest.delivery import Pacer
    from digest.transports import make_transport

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings()
    yield_cpu(settings)  # the web answers first on a shared machine
    engine = open_engine(settings)
    require_schema(settings, engine, command="worker")
    pacer = Pacer(settings.rate_limit)
    transport = make_transport(settings, observer=pacer.observe)
    owner = f"worker:{socket.gethostname()[:40]}:{os.getpid()}"
    stop = threading.Event()
    readers: threading.Thread | None = None
    try:
        check_before_sending(transport)
        _on_signals(stop)
        err_console.print(f"worker {shown(owner)} started; Ctrl-C or SIGTERM stops it")
        readers = _start_reader_work(engine, settings, stop, once=once)
        while not stop.is_set():
            for outcome in schedule.desk_run(
                engine, settings, transport=transport, pacer=pacer, now=utcnow(), owner=owner
            ):
                console.print(shown(outcome))
            if once:
                break
            stop.wait(poll or settings.request_poll_seconds)
    finally:
        stop.set()
        if readers is not None:
            readers.join()
        transport.close()
        engine.dispose()
    err_console.print("worker stopped")


def _on_signals(stop: threading.Event) -> None:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _start_reader_work(
    engine: Engine, settings: Settings, stop: threading.Event, *, once: bool
) -> threading.Thread:
    """The readers' work in its own thread with its own transport (never shared across
    threads), until `stop` is set; `once`: a single round."""
    thread = threading.Thread(
        target=_reader_work, args=(engine, settings, stop), kwargs={"once": once}, daemon=True
    )
    thread.start()
    return thread


def _reader_work(engine: Engine, settings: Settings, stop: threading.Event, *, once: bool) -> None:
    from digest.db import utcnow
    from digest.readers import work
    from digest.transports import make_transport

    transport = make_transport(settings)
    try:
        while not stop.is_set():
            try:
                done = work.do_reader_work(engine, settings, transport=transport, now=utcnow())
            except Exception:
                log.exception("reader requests or pending mail failed; trying again")
            else:
                if done.acted_on or done.sent:
                    console.print(
                        f"readers: {done.acted_on} request(s) acted on, "
                        f"{done.sent} due email(s) sent"
                    )
            if once:
                return
            stop.wait(READER_WORK_SECONDS)
    finally:
        transport.close()
