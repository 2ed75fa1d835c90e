"""The send loop: workers claim leased batches, pace, send, and record each answer.

Progress lives in the store only. A worker that dies leaves its batch leased; when the lease
expires any worker (in any process) re-claims it and sends it again under the same key.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest.db import in_store, session_scope, store_unavailable, utcnow
from digest.delivery import claims, results
from digest.delivery.breaker import Breaker
from digest.delivery.claims import Claim
from digest.delivery.compose import Composer
from digest.delivery.pacing import Pacer
from digest.delivery.retry import Action, Decision, RetryPolicy
from digest.errors import TransportError
from digest.models import BatchStatus
from digest.transports import SendResult, Transport

IDLE_POLL_SECONDS = 0.2  # how soon an idle worker notices a batch released for retry
# Work due later than this (readers greylisted for minutes) is left to a later run: the
# command ends "unfinished" instead of sitting idle, and the scheduler's maintenance resumes it.
MAX_IDLE_SECONDS = 60.0
OUTAGE_NOTE = "provider unavailable: {}; resumes automatically (hourly, or rerun the send)"

log = logging.getLogger(__name__)
T = TypeVar("T")


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
    store_patience: float = 60.0  # DIGEST_DB_RETRY_SECONDS: how long to wait out a lost store
    breaker: Breaker | None = None  # checked after every recorded batch (breaker.py)
    on_trip: Callable[[str], None] | None = None  # tells the editors; called once per trip
    # Work that adds batches while the workers send (the enqueue); idle workers wait for it.
    feed: Callable[[], None] | None = None
    feeding: threading.Event = field(default_factory=threading.Event)
    # The claims being sent (by id(claim): a batch may be re-claimed while a slow worker still
    # holds its old claim): the heartbeat renews their leases.
    held: dict[int, Claim] = field(default_factory=dict, repr=False)
    held_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def run(self, workers: int) -> Tally:
        prefix = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        finished = [threading.Event() for _ in range(workers)]
        threads = [
            threading.Thread(target=self._guarded, args=(f"{prefix}:{n}", done), daemon=True)
            for n, done in enumerate(finished)
        ]
        if self.feed is not None:
            self.feeding.set()
            feeder = threading.Event()
            threads.append(threading.Thread(target=self._fed, args=(feeder,), daemon=True))
            finished.append(feeder)
        beating = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(beating,), daemon=True)
        with self._keep_open():
            heartbeat.start()
            for thread in threads:
                thread.start()
            try:
                wait_all(finished)
            except KeyboardInterrupt:  # Ctrl-C: let in-flight batches finish and be recorded
                self.stop.set()
                wait_all(finished)
                raise
            finally:
                beating.set()
                heartbeat.join()
        if self.errors:
            raise self.errors[0]
        return self.tally

    def _keep_open(self) -> AbstractContextManager[Any]:
        # Holding one connection open for the run keeps SQLite from checkpointing its WAL
        # every time a worker's session closes the last connection (a third of the ledger time).
        # PostgreSQL needs no such thing, and a held connection would only die in an outage.
        if self.engine.dialect.name == "sqlite":
            return self.engine.connect()
        return nullcontext()

    def _store(self, work: Callable[[Session], T], *, read_only: bool = False) -> T:
        """One transaction, waited out and retried while the database is away."""
        return in_store(
            self.engine, work, patience=self.store_patience, read_only=read_only, what="the send"
        )

    def _guarded(self, owner: str, done: threading.Event) -> None:
        try:
            self._work(owner)
        except BaseException as exc:  # surface in run(); the lease lets others resume the batch
            self.errors.append(exc)
            self.stop.set()
        finally:
            done.set()

    def _fed(self, done: threading.Event) -> None:
        try:
            assert self.feed is not None
            self.feed()
        except BaseException as exc:  # surface in run(); the next run resumes the enqueue
            self.errors.append(exc)
            self.stop.set()
        finally:
            self.feeding.clear()
            done.set()

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

        def claim_next(session: Session) -> Claim | None:
            if not claims.is_sending(session, issue_id):
                self.stop.set()  # paused (quota) or finished elsewhere
                return None
            now = self.clock()
            claim = claims.claim_batch(
                session, issue_id=issue_id, owner=owner, now=now, lease=self.lease
            )
            if claim is not None and not claim.recipients and not claim.expired:
                results.finish_batch(session, claim, BatchStatus.DONE, now=now)
            return claim

        claim = self._store(claim_next)
        if claim is not None:
            self._progress(skipped=claim.skipped, failed=claim.expired)
        return claim

    def _idle_wait(self) -> float | None:
        """Seconds until a batch may become claimable; None when this run should end.

        A batch leased by another worker or process is always waited for: it finishes, or its
        lease expires and this run takes it over. Only work due later than MAX_IDLE_SECONDS
        with nothing in flight is left to a later run.
        """
        issue_id = self.composer.issue_id

        def look(session: Session) -> tuple[datetime | None, bool]:
            due = claims.next_due(session, issue_id)
            return due, due is not None and claims.has_leased(session, issue_id)

        feeding = self.feeding.is_set()  # read first: batches written after the look are seen
        due, in_flight = self._store(look, read_only=True)
        if due is None:
            return IDLE_POLL_SECONDS if feeding else None
        wait = max(0.05, (due - self.clock()).total_seconds())
        return None if wait > MAX_IDLE_SECONDS and not in_flight else wait

    def _send(self, claim: Claim) -> None:
        with self._holding(claim):
            emails = self.composer.build(claim)
            self.pacer.acquire()
            try:
                answers = self.transport.send_batch(emails, idempotency_key=claim.idempotency_key)
            except TransportError as exc:
                self._after_failure(claim, exc)
                return
            tripped: list[str] = []
            recorded = self._store(lambda s: self._record(s, claim, answers, tripped))
        if tripped:
            self._trip(tripped[-1])
        if recorded:
            sent = sum(1 for r in answers if r.ok)
            final = sum(1 for r in answers if not r.ok and r.permanent)
            self._progress(sent=sent, failed=final)

    def _record(
        self, session: Session, claim: Claim, answers: list[SendResult], tripped: list[str]
    ) -> bool:
        now = self.clock()
        resend_at = now + timedelta(seconds=self.policy.refused_backoff(1, self.rng))
        recorded = results.record_results(
            session,
            claim,
            answers,
            now=now,
            resend_at=resend_at,
            max_attempts=self.policy.max_attempts,
        )
        if recorded and self.breaker is not None:
            # Same transaction as the answers: the pause lands with the batch that crossed.
            reason = self.breaker.after_batch(session, claim.issue_id, answers, now=now)
            tripped[:] = [reason] if reason else []
        return recorded

    def _trip(self, reason: str) -> None:
        self.tally.paused = reason
        self.stop.set()
        if self.on_trip is not None:
            self.on_trip(reason)

    @contextmanager
    def _holding(self, claim: Claim) -> Iterator[None]:
        """While the batch is built, paced and sent, the job's heartbeat renews its lease every
        third of it, so an idle worker never takes a slow batch over and sends it twice (fatal
        over SMTP). One heartbeat thread for the job: a thread started per batch waited for
        the GIL at every start, a tenth of a send's time (issue 14)."""
        with self.held_lock:
            self.held[id(claim)] = claim
        try:
            yield
        finally:
            with self.held_lock:
                self.held.pop(id(claim), None)

    def _heartbeat(self, done: threading.Event) -> None:
        while not done.wait(self.lease.total_seconds() / 3):
            with self.held_lock:
                holding = list(self.held.values())
            for claim in holding:
                self._renew(claim)

    def _renew(self, claim: Claim) -> None:
        try:
            with session_scope(self.engine) as session:
                renewed = results.renew_lease(session, claim, until=self.clock() + self.lease)
                # Not renewed is most often a batch this worker has just recorded (or put
                # back) and not yet let go of: only a lease someone else holds is news.
                lost = not renewed and results.taken_over(session, claim)
        except Exception as exc:  # the next beat tries again, the lease still runs
            if not store_unavailable(exc):
                log.exception("batch %s: renewing the lease failed", claim.batch_id)
            return
        if renewed:
            return
        with self.held_lock:
            if self.held.get(id(claim)) is claim:
                del self.held[id(claim)]
                if lost:
                    log.warning("batch %s: lease lost to another worker", claim.batch_id)

    def _after_failure(self, claim: Claim, exc: TransportError) -> None:
        def decide(session: Session) -> Decision | None:
            attempts = results.attempts_of(session, claim.batch_id)
            decision = self.policy.decide(exc, attempts=attempts, shrunk=claim.shrunk, rng=self.rng)
            return decision if self._apply(session, claim, exc, decision) else None

        decision = self._store(decide)
        if decision is None:
            return
        log.warning(
            "issue %s batch %s (key %s): %s -> %s%s",
            claim.issue_id,
            claim.batch_id,
            claim.idempotency_key,
            exc.message,
            decision.action,
            f" in {decision.delay:.1f} s" if decision.action is Action.RETRY else "",
        )
        if decision.action is Action.RETRY and exc.retry_after:
            self.pacer.hold(exc.retry_after)
        self._report(decision.action, claim, exc)

    def _apply(
        self, session: Session, claim: Claim, exc: TransportError, decision: Decision
    ) -> bool:
        """Write the decision to the ledger; False if this worker no longer holds the batch."""
        now, action = self.clock(), decision.action
        if action is Action.RETRY:
            at = now + timedelta(seconds=decision.delay)
            return results.release_batch(
                session, claim, at=at, error=exc.message, count_attempt=decision.counts
            )
        if action in (Action.PAUSE, Action.OUTAGE):
            outage = action is Action.OUTAGE
            if not results.release_batch(
                session,
                claim,
                at=now,
                error=exc.message,
                count_attempt=False,
                reset_attempts=outage,
            ):
                return False
            reason = OUTAGE_NOTE.format(exc.message) if outage else exc.message
            results.pause_issue(session, claim.issue_id, reason=reason, now=now)
            return True
        if action is Action.SENT_EARLIER:
            return results.mark_sent_earlier(session, claim, now=now, note=exc.message)
        return results.fail_batch(session, claim, error=exc.message, now=now)

    def _report(self, action: Action, claim: Claim, exc: TransportError) -> None:
        if action in (Action.PAUSE, Action.OUTAGE):
            self.tally.paused = (
                OUTAGE_NOTE.format(exc.message) if action is Action.OUTAGE else exc.message
            )
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


def wait_all(events: list[threading.Event]) -> None:
    """Wait for every worker. Not Thread.join: on Python 3.11 a join interrupted by Ctrl-C
    marks a running thread stopped (bpo-45274's fix), so a second join returns at once and the
    process would exit with batches in flight and unrecorded."""
    for event in events:
        while not event.wait(0.5):
            pass
