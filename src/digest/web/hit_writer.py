"""Hits on tracked links are written a moment later, many per transaction, by one thread.

The redirect only checks the token and queues the hit, so a reader's click never waits on the
store (on SQLite, writers queue one behind the other; one write per click was most of its
cost). The writer flushes every FLUSH_SECONDS, before the figures are read, and when the app
stops. A crash loses at most the hits of the last moment; a store that is away loses the
hits of that flush (logged): analytics, never a reader's state. The raw IP and user agent
live only in this queue, until the flush turns them into a keyed hash.
"""

from __future__ import annotations

import logging
import queue
import threading

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from digest import clicks
from digest.config import Settings
from digest.db import session_scope

FLUSH_SECONDS = 0.25
MAX_QUEUED = 50_000  # beyond this (a flood, a store away for long) hits are dropped
log = logging.getLogger(__name__)


class HitWriter:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.pending: queue.SimpleQueue[clicks.PendingHit] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.dropped = 0

    def add(self, hit: clicks.PendingHit) -> None:
        if self.pending.qsize() >= MAX_QUEUED:
            self.dropped += 1
            return
        self.pending.put(hit)

    def flush(self) -> int:
        """Write everything queued so far; returns how many hits were stored."""
        with self.lock:
            batch = []
            while not self.pending.empty():
                batch.append(self.pending.get())
            if not batch:
                return 0
            try:
                with session_scope(self.engine) as session:
                    return clicks.record_hits(session, self.settings, batch)
            except SQLAlchemyError:
                log.warning("%d click hit(s) not recorded: the store failed", len(batch))
                return 0

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="hit-writer", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self.stopping.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:  # keep writing later hits whatever one flush met
                log.exception("writing click hits failed")
