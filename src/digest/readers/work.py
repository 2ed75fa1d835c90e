"""The readers' work that follows an answer: act on stored requests (subscribe, "email me my
link"), then send the transactional mail that is due.

One round of it is what `digest serve` runs after each stored request (DIGEST_WEB_SENDS_MAIL=on)
and what `digest worker` runs every second (either way: claims in the store give each request
and each message to one process only, so both may run at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.readers import mail_queue, signup
from digest.transports import Transport


@dataclass(frozen=True)
class Round:
    acted_on: int  # stored requests handled (whatever was decided for each)
    sent: int  # transactional emails the transport accepted among those already due


def do_reader_work(
    engine: Engine, settings: Settings, *, transport: Transport, now: datetime
) -> Round:
    """Act on every stored request (sending the mail each one queues), then send due mail."""
    acted_on = signup.process_requests(engine, settings, transport=transport, now=now)
    sent = mail_queue.send_pending_messages(engine, settings, transport=transport, now=now)
    return Round(acted_on, sent)
