"""Delivery: the send ledger and the engine that drains it, exactly once per reader.

    send.py     prepare (freeze + enqueue), open the period's issue, resume, finish; send_issue
    workers.py  SendJob: worker threads, lease heartbeat, applying retry decisions; Tally
    enqueue.py  the ledger written set-based in chunks of readers, resumable (enqueue_progress)
    claims.py   the ledger, taking side: lease the next due batch, recheck readers
    audience.py who gets which copy, in SQL: the issue's, their topics' variant, or nothing
    results.py  the ledger, recording side: answers, retries, resends, failures, pauses
    compose.py  Composer: one recipient's copy of a frozen issue or variant (links, greeting,
                headers)
    list_headers.py  List-Unsubscribe (one-click), List-Id and Feedback-ID of bulk mail
    retry.py    RetryPolicy: what to do after a failed batch attempt
    pacing.py   Pacer: DIGEST_RATE_LIMIT and the provider's rate-limit headers
    reports.py  read-only counts and failure reasons of an issue's ledger
    breaker.py  Breaker: pause a send whose bounces or complaints pass their limits; release
    reports.py  read-only counts and failure reasons of an issue's ledger (tallies included)
    compact.py  old issues' ledgers folded into per-issue counts (ledger_tally)
    proof.py    [TEST] copies, outside the ledger

Rule: the store is the checkpoint. A batch is done only when the provider's answer is recorded,
by the worker that still holds its lease; the transport is passed in, never built here.
"""

from digest.delivery.breaker import Breaker, release_breaker
from digest.delivery.claims import eligible_count
from digest.delivery.pacing import Pacer
from digest.delivery.proof import normalise_address, send_frozen_test_copy, send_test_copy
from digest.delivery.reports import batch_counts, failure_reasons, issue_by_number, issue_counts
from digest.delivery.retry import RetryPolicy
from digest.delivery.send import (
    SendReport,
    clock_from,
    finish_if_done,
    open_period_issue,
    prepare_issue,
    send_issue,
    unfinished_issues,
)
from digest.delivery.workers import Tally

__all__ = [
    "Breaker",
    "Pacer",
    "RetryPolicy",
    "SendReport",
    "Tally",
    "batch_counts",
    "clock_from",
    "eligible_count",
    "failure_reasons",
    "finish_if_done",
    "issue_by_number",
    "issue_counts",
    "normalise_address",
    "open_period_issue",
    "prepare_issue",
    "release_breaker",
    "send_frozen_test_copy",
    "send_issue",
    "send_test_copy",
    "unfinished_issues",
]
