"""Send control from the desk: "send now" and "resume" as requests in the store, and pause.

The web never sends: it records a `SendRequest`, and a scheduler or `digest worker` claims it
(an UPDATE that only one process can win) and runs the send with the transport it was handed.
One open request per issue exists (`open_key`'s unique constraint): a second click, a second
browser or a retry finds the first. The request is closed as soon as its issue is frozen and
enqueued; from there the ledger (delivery/) carries the send exactly once, and the
scheduler's maintenance resumes it after a crash.

An editor's pause sets the issue PAUSED with `paused_by`: workers stop claiming batches at
once, and nothing resumes it automatically (delivery.send_issue leaves such an issue paused)
until an editor asks to resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digest import delivery, issues
from digest.config import ReviewMode, Settings
from digest.db import session_scope
from digest.editors.audit import record_audit
from digest.editors.review import check_number, content_hash, next_for_review
from digest.errors import Conflict, NotFound, NothingToSend
from digest.models import Issue, IssueStatus, SendRequest, SendRequestKind
from digest.transports import Transport

CLAIM_LEASE = timedelta(minutes=2)  # a claim older than this (its process died) is taken again
UNFINISHED = (IssueStatus.SENDING, IssueStatus.PAUSED)
MAX_PER_RUN = 10


@dataclass(frozen=True)
class Requested:
    request: SendRequest
    created: bool  # False: an open request for the issue existed already (a second click)


def issue_by_number(session: Session, number: int) -> Issue:
    check_number(number)
    issue = session.exec(select(Issue).where(Issue.number == number)).first()
    if issue is None:
        raise NotFound(f"there is no issue #{number}")
    return issue


def request_send(
    session: Session, settings: Settings, *, number: int, actor: str, now: datetime
) -> Requested:
    """Ask for issue `number` (the next one) to be sent now."""
    check_number(number)
    found = session.exec(select(Issue).where(Issue.number == number)).first()
    if found is not None and found.status in UNFINISHED:
        raise Conflict(f"issue #{number} is already being sent; resume it if it is paused")
    issue = next_for_review(session, settings, number=number, now=now)
    _check_sendable_now(session, settings, issue, now=now)
    return _record(session, issue, SendRequestKind.SEND, actor=actor, now=now)


def _check_sendable_now(
    session: Session, settings: Settings, issue: Issue, *, now: datetime
) -> None:
    plan = issues.next_issue(session, settings, now=now)
    if plan.resuming:
        raise Conflict(f"issue #{plan.number} is still being sent; it goes first")
    if not plan.sendable_now or plan.number != issue.number:
        raise Conflict(f"issue #{issue.number} cannot go out now: {plan.describe()}")
    if settings.review == ReviewMode.REQUIRED and not _approved(session, settings, issue, now=now):
        raise Conflict(f"issue #{issue.number} is not approved (DIGEST_REVIEW=required)")


def _approved(session: Session, settings: Settings, issue: Issue, *, now: datetime) -> bool:
    try:
        return issue.approved_hash == content_hash(session, settings, issue, now=now)
    except NothingToSend:
        return False


def request_resume(session: Session, *, number: int, actor: str, now: datetime) -> Requested:
    """Lift an editor's or the circuit breaker's pause and ask for the unfinished send to go
    on (the breaker's running totals start afresh)."""
    issue = issue_by_number(session, number)
    if issue.status not in UNFINISHED:
        raise Conflict(
            f"issue #{number} is {issue.status}: only a paused or unfinished send resumes"
        )
    issue.paused_by = None
    session.add(issue)
    if issue.status == IssueStatus.PAUSED and issue.id is not None:
        delivery.release_breaker(session, issue.id)
        session.refresh(issue)
    return _record(session, issue, SendRequestKind.RESUME, actor=actor, now=now)


def pause_send(session: Session, *, number: int, actor: str, now: datetime) -> Issue:
    """Pause issue `number`'s send: workers stop at their next batch; nothing resumes it
    until an editor does. Open requests for it are closed."""
    issue = issue_by_number(session, number)
    if issue.status not in UNFINISHED:
        hint = " (hold it instead)" if issue.status == IssueStatus.DRAFT else ""
        raise Conflict(f"issue #{number} is {issue.status}: only a send in progress pauses{hint}")
    issue.status, issue.paused_by = IssueStatus.PAUSED, actor[:340]
    issue.pause_reason = f"paused by {actor} (at {now:%Y-%m-%d %H:%M} UTC)"[:500]
    session.add(issue)
    _close_open(session, issue, outcome=f"cancelled: paused by {actor}", now=now)
    record_audit(session, actor, "pause", f"issue {number}", now=now)
    session.flush()
    return issue


def _record(
    session: Session, issue: Issue, kind: SendRequestKind, *, actor: str, now: datetime
) -> Requested:
    assert issue.id is not None
    request = SendRequest(
        issue_id=issue.id, kind=kind, open_key=issue.id, requested_by=actor[:340], requested_at=now
    )
    try:
        with session.begin_nested():
            session.add(request)
    except IntegrityError:  # an open request exists: this click is the same wish
        existing = session.exec(select(SendRequest).where(SendRequest.open_key == issue.id)).one()
        return Requested(existing, created=False)
    record_audit(session, actor, str(kind), f"issue {issue.number}", "requested", now=now)
    return Requested(request, created=True)


def _close_open(session: Session, issue: Issue, *, outcome: str, now: datetime) -> None:
    session.execute(
        update(SendRequest)
        .where(col(SendRequest.open_key) == issue.id)
        .values(open_key=None, done_at=now, outcome=outcome[:500])
    )


def open_requests(session: Session, issue_id: int) -> list[SendRequest]:
    query = select(SendRequest).where(col(SendRequest.open_key) == issue_id)
    return list(session.exec(query).all())


def claim_request(session: Session, *, owner: str, now: datetime) -> SendRequest | None:
    """The oldest open request nobody holds (or whose holder died), now held by `owner`."""
    free = or_(
        col(SendRequest.claimed_at).is_(None), col(SendRequest.claimed_at) < now - CLAIM_LEASE
    )
    candidate = session.exec(
        select(SendRequest.id)
        .where(col(SendRequest.open_key).is_not(None), free)
        .order_by(col(SendRequest.id))
        .limit(1)
    ).first()
    if candidate is None:
        return None
    won = session.execute(
        update(SendRequest)
        .where(col(SendRequest.id) == candidate, col(SendRequest.open_key).is_not(None), free)
        .values(claimed_by=owner[:100], claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(SendRequest, candidate)


def process_requests(
    engine: Engine,
    settings: Settings,
    *,
    transport: Transport,
    pacer: delivery.Pacer,
    owner: str,
    now: datetime,
) -> list[str]:
    """Act on the open send requests, one after another; what happened to each."""
    outcomes = []
    for _ in range(MAX_PER_RUN):
        with session_scope(engine) as session:
            request = claim_request(session, owner=owner, now=now)
            request_id = request.id if request else None
        if request_id is None:
            break
        outcomes.append(
            run_request(
                engine, settings, request_id, transport=transport, pacer=pacer, owner=owner, now=now
            )
        )
    return outcomes


def run_request(
    engine: Engine,
    settings: Settings,
    request_id: int,
    *,
    transport: Transport,
    pacer: delivery.Pacer,
    owner: str,
    now: datetime,
) -> str:
    """Freeze and enqueue (send) or unpause (resume) the issue and close the request in one
    transaction, then run the send; a request that no longer applies closes with the reason."""
    with session_scope(engine) as session:
        request = session.get(SendRequest, request_id)
        assert request is not None
        issue_id, number, why_not = _start(session, settings, request, now=now)
        outcome = why_not or "started"
        _finish(session, request, outcome=outcome, owner=owner, number=number, now=now)
    if why_not is not None:
        return f"issue #{number}: not sent: {why_not}"
    report = delivery.send_issue(
        engine, settings, issue_id, transport=transport, pacer=pacer, now=now
    )
    counts = " ".join(f"{k}={v}" for k, v in report.counts.items())
    with session_scope(engine) as session:
        record_audit(
            session,
            owner,
            "send-run",
            f"issue {number}",
            f"{report.issue.status}; {counts}",
            now=now,
        )
    return f"issue #{number}: {report.issue.status}; {counts}"


def _start(
    session: Session, settings: Settings, request: SendRequest, *, now: datetime
) -> tuple[int, int, str | None]:
    issue = session.get(Issue, request.issue_id)
    assert issue is not None and issue.id is not None
    if request.kind == SendRequestKind.RESUME:
        if issue.status not in UNFINISHED or issue.paused_by is not None:
            return (
                issue.id,
                issue.number,
                f"it is {issue.status}" + (" (paused by an editor)" if issue.paused_by else ""),
            )
        return issue.id, issue.number, None
    try:
        _check_sendable_now(session, settings, issue, now=now)
    except Conflict as exc:
        return issue.id, issue.number, exc.message
    frozen = delivery.prepare_issue(session, settings, now=now)
    assert frozen.id is not None
    return frozen.id, frozen.number, None


def _finish(
    session: Session, request: SendRequest, *, outcome: str, owner: str, number: int, now: datetime
) -> None:
    request.open_key, request.done_at, request.outcome = None, now, outcome[:500]
    request.claimed_by = owner[:100]
    session.add(request)
    if outcome != "started":
        record_audit(session, owner, "send-refused", f"issue {number}", outcome, now=now)
