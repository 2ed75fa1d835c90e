"""Review: approve or hold the next issue, and whether the schedule may send it.

An approval is of the content the editor saw: `content_hash` fingerprints the subject, the
note and each comparison the issue would carry (id, title, last change). The hash is stored
with the approval; the schedule (DIGEST_REVIEW=required) sends only while the issue still has
that hash, and `edit_issue` withdraws the approval outright, so an edit after approval is never
sent unreviewed. A frozen issue (sending, paused, sent) is past review: approving or holding
it is refused and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from digest import issues
from digest.config import ReviewMode, Settings
from digest.editors.audit import record_audit
from digest.errors import Conflict, NotFound, NothingToSend
from digest.issues.compose import FROZEN, frozen_in, next_number, period_of, upcoming_slot
from digest.issues.timing import last_run_time, parse_schedule
from digest.models import Issue


@dataclass(frozen=True)
class ReviewState:
    """Where the next issue stands in review, for pages and the CLI."""

    issue: Issue | None
    content_hash: str | None  # None: nothing to send yet
    approved: bool  # approved, and the content is still what was approved
    withdrawn: bool  # was approved, but the content changed since

    def describe(self) -> str:
        if self.content_hash is None:
            return "nothing to review yet"
        if self.approved and self.issue and self.issue.approved_at is not None:
            at = self.issue.approved_at
            return f"approved by {self.issue.approved_by} at {at:%Y-%m-%d %H:%M} UTC"
        if self.withdrawn:
            return "approval withdrawn: the issue changed after it was approved"
        return "not approved"


def content_hash(
    session: Session, settings: Settings, issue: Issue | None, *, now: datetime
) -> str:
    """The fingerprint of what `issue` (None: the next issue, not claimed yet, so without a
    subject or note) would carry if it froze at `now`; NothingToSend when it carries nothing."""
    composition = issues.compose_issue(session, settings, now=now)
    cards = [
        [view.comparison.id, view.comparison.title, view.comparison.updated_at.isoformat()]
        + [tool.tool.id for tool in view.tools]
        for view in composition.all
    ]
    payload = {
        "subject": (issue.subject_override if issue else None) or "",
        "note": (issue.editor_note if issue else None) or "",
        "featured": len(composition.featured),
        "cards": cards,
    }
    encoded = json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


MAX_NUMBER = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL


def check_number(number: int) -> None:
    """NotFound for a number no issue can have (PostgreSQL would refuse to even compare it)."""
    if not 1 <= number <= MAX_NUMBER:
        raise NotFound(f"there is no issue #{number}")


def next_for_review(session: Session, settings: Settings, *, number: int, now: datetime) -> Issue:
    """Issue `number`, which must be the next one not yet frozen (claimed now if need be, as
    saving a subject claims it); Conflict for a frozen issue, NotFound for any other number."""
    check_number(number)
    draft = issues.find_draft(session)
    if draft is None and number == next_number(session):
        _period, goes_out_at = upcoming_slot(session, settings, now=now)
        draft = issues.claim_issue(session, settings, now=now, period_at=goes_out_at)
    if draft is not None and draft.number == number and draft.status not in FROZEN:
        return draft
    found = session.exec(select(Issue).where(Issue.number == number)).first()
    if found is None:
        raise NotFound(f"there is no issue #{number}")
    if found.status in FROZEN:
        raise Conflict(
            f"issue #{number} is already {found.status}: review is over once sending begins "
            "(pause it instead)"
        )
    raise Conflict(f"issue #{number} is not the next issue; review the next one")


def approve_issue(
    session: Session,
    settings: Settings,
    *,
    number: int,
    actor: str,
    now: datetime,
    seen_hash: str | None = None,
) -> Issue:
    """Approve issue `number` as it stands now. With `seen_hash` (the hash of the page the
    editor approved from), refuse when the issue changed since: the approval would be of
    content nobody looked at."""
    issue = next_for_review(session, settings, number=number, now=now)
    try:
        current = content_hash(session, settings, issue, now=now)
    except NothingToSend as exc:
        raise Conflict(f"issue #{number} has nothing to approve: {exc.message}") from None
    if seen_hash and seen_hash != current:
        raise Conflict(
            f"issue #{number} changed since you looked at it (a comparison arrived or the "
            "subject or note was edited); review it again before approving"
        )
    issue.approved_hash, issue.approved_by, issue.approved_at = current, actor[:340], now
    session.add(issue)
    record_audit(session, actor, "approve", f"issue {number}", f"content {current[:12]}", now=now)
    session.flush()
    return issue


def hold_issue(
    session: Session, settings: Settings, *, number: int, actor: str, now: datetime
) -> Issue:
    """Withdraw the approval: with DIGEST_REVIEW=required the schedule will not send it."""
    issue = next_for_review(session, settings, number=number, now=now)
    _withdraw(issue)
    session.add(issue)
    record_audit(session, actor, "hold", f"issue {number}", now=now)
    session.flush()
    return issue


def _withdraw(issue: Issue) -> None:
    issue.approved_hash = issue.approved_by = issue.approved_at = None


def edit_issue(
    session: Session,
    settings: Settings,
    *,
    subject: str | None,
    note: str | None,
    actor: str,
    now: datetime,
) -> Issue:
    """Set the next issue's subject and note (issues.set_overrides); an approval is withdrawn
    when either changes."""
    before = issues.find_draft(session)
    old = (before.subject_override, before.editor_note) if before else (None, None)
    issue = issues.set_overrides(session, settings, subject=subject, note=note, now=now)
    withdrawn = (issue.subject_override, issue.editor_note) != old and bool(issue.approved_hash)
    if withdrawn:
        _withdraw(issue)
        session.add(issue)
    detail = "subject and note saved" + ("; approval withdrawn" if withdrawn else "")
    record_audit(session, actor, "edit", f"issue {issue.number}", detail, now=now)
    session.flush()
    return issue


def review_state(session: Session, settings: Settings, *, now: datetime) -> ReviewState:
    """The next issue's review state (read-only: nothing is claimed)."""
    draft = issues.find_draft(session)
    try:
        current: str | None = content_hash(session, settings, draft, now=now)
    except NothingToSend:
        current = None
    approved_hash = draft.approved_hash if draft else None
    approved = current is not None and approved_hash == current
    withdrawn = approved_hash is not None and not approved
    return ReviewState(draft, current, approved=approved, withdrawn=withdrawn)


def waiting_for_review(
    session: Session, settings: Settings, *, now: datetime, period_at: datetime
) -> str | None:
    """Why the scheduled run of `period_at` must not send yet (DIGEST_REVIEW=required), or
    None when it may: review is off, the period's issue is frozen already (resume it), there
    is nothing to send (the run says so), or the issue is approved as it stands."""
    if settings.review != ReviewMode.REQUIRED:
        return None
    issue = issues.claim_issue(session, settings, now=now, period_at=period_at)
    if issue.status in FROZEN:
        return None
    try:
        current = content_hash(session, settings, issue, now=now)
    except NothingToSend:
        return None
    if issue.approved_hash == current:
        return None
    if issue.approved_hash is not None:
        return f"issue #{issue.number} changed after it was approved: waiting for a new approval"
    return f"issue #{issue.number} waits for approval (DIGEST_REVIEW=required)"


def approved_awaiting_run(session: Session, settings: Settings, *, now: datetime) -> bool:
    """Review is required, this week's run has passed but is within the grace window, its
    week has no frozen issue, and the next issue carries an approval (the weekly run checks
    that it still matches the content): the run may send now."""
    if settings.review != ReviewMode.REQUIRED:
        return False
    scheduled = last_run_time(parse_schedule(settings.send_schedule), settings.tz, now=now)
    if now - scheduled > timedelta(hours=settings.schedule_grace_hours):
        return False
    draft = issues.find_draft(session)
    if draft is None or draft.approved_hash is None:
        return False
    return frozen_in(session, period_of(scheduled, settings.tz)) is None
