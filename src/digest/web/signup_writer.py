"""Public requests for mail are stored by one thread, many per transaction (group commit).

Each POST /subscribe (and "email me my link") waits until its request is committed: a visitor
is told "check your inbox" only for a request the store holds. What the requests share is the
transaction: whatever arrived while the last one committed goes into the next. On SQLite the
web's own writers then never queue on the write lock behind each other (a waiting writer
sleeps in SQLite's busy handler, and held the lock across GIL switches: most of a signup's
time, issue 14); on both engines one commit serves many requests. While `digest worker` holds
SQLite's lock, the writer tries again every millisecond (`db.write_polling`) instead of
sleeping in the busy handler (+40% signups beside a working worker).

A request without topics is screened on the event loop (`signup.screen_request`: no store
needed) and only its row goes to the thread; one with topics is checked there (the topics are
the store's). Either way its answer leaves with the batch's commit, refused or not, so the
time it takes does not tell a bot that its request was dropped.

A request that is refused (a typo, an unknown topic) gets its own InvalidInput; a store that
fails fails every request of that transaction (nothing of it was stored), each answered as
any store failure is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest import throttle
from digest.config import Settings
from digest.db import make_engine, write_polling
from digest.errors import InvalidInput
from digest.models import RequestKind
from digest.readers import signup, topics
from digest.readers.signup import Answer, Receipt

MAX_BATCH = 200  # requests per transaction: on SQLite, the write lock is held this long
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    request: signup.SignupRequest
    kind: RequestKind
    now: datetime
    future: asyncio.Future[Receipt]
    loop: asyncio.AbstractEventLoop
    # Screened already (`signup.screen_request`): its answer, and its row if it is to be stored.
    screened: tuple[Receipt, dict[str, Any] | None] | None = None


Outcome = Receipt | BaseException


class SignupWriter:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.settings = settings
        # On SQLite, connections of its own that never sleep in the busy handler: a locked
        # write is tried again every millisecond (db.write_polling).
        sqlite = engine.dialect.name == "sqlite"
        self.engine = (
            make_engine(settings.database_url, pooled=True, busy_timeout_ms=0) if sqlite else engine
        )
        self.own_engine = sqlite
        self.local_limit = throttle.LocalLimit(signup.IP_WINDOW)  # this process's count per client
        self.pending: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    async def receive(
        self, request: signup.SignupRequest, kind: RequestKind, *, now: datetime
    ) -> Receipt:
        """Check and store one request (`signup.check_request`) once its transaction commits.

        A request without topics needs nothing from the store to be checked: it is screened
        here, on the event loop (microseconds of CPU), and the writer's thread only stores it;
        the less Python that thread runs, the less the loop waits for the GIL."""
        screened = None
        if not request.topics:
            screened = signup.screen_request(
                self.settings,
                request,
                kind,
                topics.TopicChoice(),
                now=now,
                local_limit=self.local_limit,
            )
            if screened[0].answer is Answer.PRESS_AGAIN:  # the form again: nothing to hide
                return screened[0]
            # A refused request (honeypot, the client's count) still waits for the batch's
            # commit, as a stored one does: its answer must not come back sooner.
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()
        self.pending.put(_Pending(request, kind, now, future, loop, screened))
        return await future

    def stop(self) -> None:
        """Store what is queued, then end the thread."""
        with self.lock:
            thread, self.thread = self.thread, None
        if thread is not None:
            self.pending.put(None)
            thread.join(timeout=30)
        if self.own_engine:
            self.engine.dispose()

    def _ensure_started(self) -> None:
        # Started on first use: an app served without its lifespan (some test clients) too.
        if self.thread is None:
            with self.lock:
                if self.thread is None:
                    self.thread = threading.Thread(
                        target=self._run, name="signup-writer", daemon=True
                    )
                    self.thread.start()

    def _run(self) -> None:
        while True:
            first = self.pending.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self.pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.pending.put(None)  # stop after this batch
                    break
                batch.append(item)
            _settle_all(batch, self._store(batch))

    def _store(self, batch: list[_Pending]) -> list[Outcome]:
        try:
            return write_polling(self.engine, lambda session: self._check_and_store(session, batch))
        except Exception as exc:  # nothing of this transaction was stored: each is told so
            # The driver's message only: the statement's parameters hold the addresses.
            reason = getattr(exc, "orig", None) or type(exc).__name__
            log.warning("%d signup request(s) not stored: %s", len(batch), reason)
            return [exc] * len(batch)

    def _check_and_store(self, session: Session, batch: list[_Pending]) -> list[Outcome]:
        """Each request checked; those to keep stored with one INSERT for the whole batch."""
        outcomes: list[Outcome] = []
        rows = []
        for pending in batch:
            outcome, row = self._check(session, pending)
            outcomes.append(outcome)
            if row is not None:
                rows.append(row)
        if rows:
            signup.store_requests(session, rows)
        return outcomes

    def _check(self, session: Session, pending: _Pending) -> tuple[Outcome, dict[str, Any] | None]:
        if pending.screened is not None:
            return pending.screened
        try:
            return signup.check_request(
                session,
                self.settings,
                pending.request,
                pending.kind,
                now=pending.now,
                local_limit=self.local_limit,
            )
        except InvalidInput as exc:  # refused before anything was stored: the others go on
            return exc, None


def _settle_all(batch: list[_Pending], outcomes: list[Outcome]) -> None:
    """Hand each outcome to its request, one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, Outcome]]] = {}
    for pending, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(pending.loop, []).append((pending, outcome))
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these
            loop.call_soon_threadsafe(_settle, pairs)


def _settle(pairs: list[tuple[_Pending, Outcome]]) -> None:
    for pending, outcome in pairs:
        if pending.future.done():  # the visitor hung up (the request was cancelled)
            continue
        if isinstance(outcome, BaseException):
            pending.future.set_exception(outcome)
        else:
            pending.future.set_result(outcome)
