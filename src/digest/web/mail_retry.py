"""Work the web process does on its own: acting on stored reader requests (subscribe, "email
me my link") and sending transactional mail that is due.

Every process of `digest serve` runs the loop, unless DIGEST_WEB_SENDS_MAIL=off hands the
work to `digest worker` (the deployment of docs/scale.md). A request handler that stores a
request wakes it (`app.state.reader_work`), so the work starts right after the answer, outside
the request: its duration, which depends on the address, never shows in any response.
Otherwise it runs every RETRY_INTERVAL_SECONDS, and once at start-up, to finish what a crash
left behind. Claims in the store make sure each request and each message is handled by one
process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from digest.config import Settings
from digest.readers import work
from digest.transports import Transport

log = logging.getLogger(__name__)
RETRY_INTERVAL_SECONDS = 30.0


async def retry_pending_mail(
    engine: Engine,
    settings: Settings,
    transport: Transport,
    *,
    wake: asyncio.Event | None = None,
    interval: float = RETRY_INTERVAL_SECONDS,
) -> None:
    """Act on stored requests, then send due mail; again when woken or after `interval`."""
    wake = wake or asyncio.Event()
    while True:
        wake.clear()
        try:
            await run_in_threadpool(_one_round, engine, settings, transport)
        except Exception:
            log.exception("reader requests or pending mail failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval)


def _one_round(engine: Engine, settings: Settings, transport: Transport) -> None:
    work.do_reader_work(engine, settings, transport=transport, now=datetime.now(UTC))
