"""A send as a child process, for the memory test: send the issue (which enqueues it) until its
ledger is complete and SENT_AT_LEAST emails are out through the outbox, then print the
process's peak RSS (KiB) and exit.

    python -m tests.support.send_child DATABASE_URL ISSUE_ID SENT_AT_LEAST FOLDER
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from digest import delivery
from digest.db import make_engine, session_scope
from digest.delivery import Tally, enqueue
from digest.transports import make_transport
from tests.support.ledger import NOW
from tests.support.settings import make_test_settings


def peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def enqueued(engine: Engine, issue_id: int) -> bool:
    with session_scope(engine, read_only=True) as session:
        return enqueue.is_finished(session, issue_id)


def main() -> None:
    url, issue_id, enough, folder = sys.argv[1:5]
    settings = make_test_settings(Path(folder), url, rate_limit=1e6)
    engine = make_engine(url)
    pacer = delivery.Pacer(settings.rate_limit)

    def progress(tally: Tally) -> None:
        if tally.sent >= int(enough) and enqueued(engine, int(issue_id)):
            print(peak_kib(), flush=True)
            os._exit(0)  # every reader is in the ledger; the rest is the same batch loop

    delivery.send_issue(
        engine,
        settings,
        int(issue_id),
        transport=make_transport(settings, observer=pacer.observe),
        pacer=pacer,
        now=NOW,
        workers=2,
        on_progress=progress,
    )
    print(peak_kib(), flush=True)


if __name__ == "__main__":
    main()
