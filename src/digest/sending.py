"""The send loop: workers claim leased batches, pace, send, and record each answer.

Progress lives in the store only. A worker that dies leaves its batch leased; when the lease
expires any worker (in any process) re-claims it and sends it again under the same key.
"""

from __future__ import annotations

import random
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from digest import ledger
from digest.db import session_scope, utcnow
from digest.errors import TransportError
from digest.ledger import Claim
from digest.models import BatchStatus
from digest.outgoing import Composer
from digest.pacing import Pacer
from digest.retry import Action, RetryPolicy
from digest.transports.base import Transport

IDLE_POLL_SECONDS = 0.2  # how soon an idle worker notices a batch released for retry


@dataclass
class Tally:
    """What this run did (not the ledger's totals)."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    paused: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, sent: int = 0, failed: int = 0, skipped: int = 0) -> None:
        with self.lock:
            self.sent, self.failed, self.skipped = (
                self.sent + sent,
                self.failed + failed,
                self.skipped + skipped,
            )


@dataclass
class SendJob:
    engine: Engine
    composer: Composer
    transport: Transport
    pacer: Pacer
    policy: RetryPolicy
    lease: timedelta
    clock: Callable[[], datetime] = utcnow
    on_progress: Callable[[Tally], None] | None = None
    tally: Tally = field(default_factory=Tally)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)

    def run(self, workers: int) -> Tally:
        prefix = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        threads = [
            threading.Thread(target=self._guarded, args=(f"{prefix}:{n}",), daemon=True)
            for n in range(workers)
        ]
        # Holding one connection open for the run keeps SQLite from checkpointing its WAL
        # every time a worker's session closes the last connection (a third of the ledger time).
        with self.engine.connect():
            for thread in threads:
                thread.start()
            try:
                for thread in threads:
                    thread.join()
            except KeyboardInterrupt:  # Ctrl-C: let in-flight batches finish and be recorded
                self.stop.set()
                for thread in threads:
                    thread.join()
                raise
        if self.errors:
            raise self.errors[0]
        return self.tally

    def _guarded(self, owner: str) -> None:
        try:
            self._work(owner)
        except BaseException as exc:  # surface in run(); the lease lets others resume the batch
            self.errors.append(exc)
            self.stop.set()

    def _work(self, owner: str) -> None:
        while not self.stop.is_set():
            claim = self._claim(owner)
            if claim is None:
                wait = self._idle_wait()
                if wait is None:
                    return
                self.stop.wait(min(wait, IDLE_POLL_SECONDS))
            elif claim.recipients:
                self._send(claim)

    def _claim(self, owner: str) -> Claim | None:
        issue_id = self.composer.issue_id
        with session_scope(self.engine) as session:
            if not ledger.is_sending(session, issue_id):
                self.stop.set()  # paused (quota) or finished elsewhere
                return None
            now = self.clock()
            claim = ledger.claim_batch(
                session, issue_id=issue_id, owner=owner, now=now, lease=self.lease
            )
            if claim is not None and not claim.recipients:
                ledger.finish_batch(session, claim.batch_id, BatchStatus.DONE, now=now)
        if claim is not None:
            self._progress(skipped=claim.skipped)
        return claim

    def _idle_wait(self) -> float | None:
        with session_scope(self.engine, read_only=True) as session:
            due = ledger.next_due(session, self.composer.issue_id)
        if due is None:
            return None
        return max(0.05, (due - self.clock()).total_seconds())

    def _send(self, claim: Claim) -> None:
        emails = self.composer.build(claim)
        self.pacer.acquire()
        try:
            results = self.transport.send_batch(emails, idempotency_key=claim.idempotency_key)
        except TransportError as exc:
            self._after_failure(claim, exc)
            return
        with session_scope(self.engine) as session:
            ledger.record_results(session, claim, results, now=self.clock())
        failed = sum(1 for r in results if not r.ok)
        self._progress(sent=len(results) - failed, failed=failed)

    def _after_failure(self, claim: Claim, exc: TransportError) -> None:
        with session_scope(self.engine) as session:
            attempts = ledger.attempts_of(session, claim.batch_id)
            decision = self.policy.decide(exc, attempts=attempts, shrunk=claim.shrunk, rng=self.rng)
            now = self.clock()
            if decision.action is Action.RETRY:
                at = now + timedelta(seconds=decision.delay)
                ledger.release_batch(
                    session, claim, at=at, error=exc.message, count_attempt=decision.counts
                )
            elif decision.action is Action.PAUSE:
                ledger.release_batch(session, claim, at=now, error=exc.message, count_attempt=False)
                ledger.pause_issue(session, claim.issue_id, reason=exc.message, now=now)
            elif decision.action is Action.SENT_EARLIER:
                ledger.mark_sent_earlier(session, claim, now=now, note=exc.message)
            else:
                ledger.fail_batch(session, claim, error=exc.message, now=now)
        if decision.action is Action.RETRY and exc.retry_after:
            self.pacer.hold(exc.retry_after)
        self._report(decision.action, claim, exc)

    def _report(self, action: Action, claim: Claim, exc: TransportError) -> None:
        if action is Action.PAUSE:
            self.tally.paused = exc.message
            self.stop.set()
        elif action is Action.SENT_EARLIER:
            self._progress(sent=len(claim.recipients))
        elif action is Action.FAIL:
            self._progress(failed=len(claim.recipients))

    def _progress(self, **counts: int) -> None:
        if not any(counts.values()):
            return
        self.tally.add(**counts)
        if self.on_progress is not None:
            self.on_progress(self.tally)
