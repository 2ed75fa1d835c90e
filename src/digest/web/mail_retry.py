"""Work the web process does on its own: retrying transactional mail that is due.

Every process of `digest serve` runs the loop; the claim in `mail_queue` makes sure each message is
sent by one of them only. The first round runs at start-up, to finish what a crash left behind.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from digest.config import Settings
from digest.readers import mail_queue
from digest.transports import Transport

log = logging.getLogger(__name__)
RETRY_INTERVAL_SECONDS = 30.0


async def retry_pending_mail(
    engine: Engine,
    settings: Settings,
    transport: Transport,
    *,
    interval: float = RETRY_INTERVAL_SECONDS,
) -> None:
    """Send due transactional mail every `interval` seconds until cancelled."""
    while True:
        try:
            await run_in_threadpool(
                mail_queue.send_pending_messages,
                engine,
                settings,
                transport=transport,
                now=datetime.now(UTC),
            )
        except Exception:
            log.exception("sending pending transactional mail failed; trying again later")
        await asyncio.sleep(interval)
