"""`digest issue send --processes N`: N sender processes on one issue, so a send uses every core.

One Python process is bound to one core by the GIL (issue 14: `--workers 4` added nothing over
2). Each child runs `delivery.send_issue` on the same issue, with its own connections and its
own share of DIGEST_RATE_LIMIT (the limit is the provider's, for all of them together). They
share nothing but the store: batches are leased (SKIP LOCKED on PostgreSQL), so no batch goes
out twice, and the enqueue is serialised on the issue's row. On SQLite the processes share its
single writer: they take turns on every ledger write, so more processes help little there.

Stopping: SIGTERM or Ctrl-C reaches every child (forwarded by the parent, which also waits for
them); each child lets its in-flight batches finish and be recorded, then exits, as one
process does on Ctrl-C. A second signal does not cut that short.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from multiprocessing.process import BaseProcess
from types import FrameType

from digest.cli.common import load_settings, open_engine
from digest.errors import StoreUnavailable

EXIT_UNFINISHED, EXIT_INTERRUPTED = 3, 130  # as `digest issue send` (cli/send.py)
STOPS = (signal.SIGINT, signal.SIGTERM)


def run_children(issue_id: int, *, processes: int, workers: int, now: datetime) -> list[int]:
    """Start `processes` senders on the issue, wait for all of them; their exit codes."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding connections
    children = [
        context.Process(
            target=child_send,
            args=(issue_id, now, workers, processes),
            name=f"digest-send-{n}",
        )
        for n in range(processes)
    ]
    with forwarding_stops(children):
        for child in children:
            child.start()
        for child in children:
            child.join()
    return [child.exitcode if child.exitcode is not None else EXIT_UNFINISHED for child in children]


@contextmanager
def forwarding_stops(children: Sequence[BaseProcess]) -> Iterator[None]:
    """While the children run, SIGINT and SIGTERM to the parent go to every child instead."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None and child.exitcode is None:
                with suppress(ProcessLookupError):  # it ended meanwhile
                    os.kill(child.pid, signum)

    previous = {stop: signal.signal(stop, forward) for stop in STOPS}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)


def child_send(issue_id: int, now: datetime, workers: int, processes: int) -> None:
    """One sender process (the target of `run_children`). Exits 130 if stopped, 3 if the
    store was away, else 0: the parent reads the outcome from the ledger once all are done
    (a child that ends first cannot know whether the others' last batches went out)."""
    stopped = stop_once()
    try:
        send_share(issue_id, now=now, workers=workers, processes=processes)
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None
    except StoreUnavailable:
        raise SystemExit(EXIT_UNFINISHED) from None
    if stopped():
        raise SystemExit(EXIT_INTERRUPTED)


def send_share(issue_id: int, *, now: datetime, workers: int, processes: int) -> None:
    from digest import delivery  # imported here, so that `digest --help` stays fast
    from digest.delivery import Pacer
    from digest.transports import make_transport

    settings = load_settings()
    engine = open_engine(settings)
    pacer = Pacer(settings.rate_limit / processes)  # the provider's limit is for all of us
    transport = make_transport(settings, observer=pacer.observe)
    try:
        delivery.send_issue(
            engine, settings, issue_id, transport=transport, pacer=pacer, now=now, workers=workers
        )
    finally:
        transport.close()
        engine.dispose()


def stop_once() -> Callable[[], bool]:
    """The first SIGINT or SIGTERM raises KeyboardInterrupt (the send's clean stop); later
    ones are ignored, so the wait for in-flight batches is never cut short. Returns whether
    a stop came."""
    came: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        if came:
            return
        came.append(signum)
        raise KeyboardInterrupt

    for signum in STOPS:
        signal.signal(signum, stop)
    return lambda: bool(came)
