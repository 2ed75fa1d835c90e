"""The review reminder: with DIGEST_REVIEW=required, DIGEST_REVIEW_NOTICE_HOURS before the
scheduled send, the editors (DIGEST_EDITOR_EMAILS) are told the next issue waits for them.

Once per issue: the issue's `review_notice_at` is set by an UPDATE only one process can win,
before anything is sent; if the transport fails it is cleared again, so a later run tries once
more. Nothing is sent for an issue already approved or with nothing in it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from digest import issues
from digest.config import ReviewMode, Settings
from digest.db import session_scope
from digest.editors.audit import record_audit
from digest.editors.review import content_hash
from digest.errors import NothingToSend, TransportError
from digest.issues.compose import upcoming_slot
from digest.models import Issue
from digest.transports import OutgoingEmail, Transport


def send_review_reminder(
    engine: Engine, settings: Settings, *, transport: Transport, now: datetime
) -> str | None:
    """Send the reminder when it is due; what was done, or None when nothing was due."""
    if settings.review != ReviewMode.REQUIRED or not settings.editor_addresses:
        return None
    with session_scope(engine) as session:
        due = _claim_due(session, settings, now=now)
        if due is None:
            return None
        number, issue_id, goes_out_at = due
        record_audit(session, "scheduler", "review-reminder", f"issue {number}", now=now)
    emails = [_email(settings, to, number, goes_out_at) for to in settings.editor_addresses]
    try:
        results = transport.send_batch(emails, idempotency_key=f"review-{uuid.uuid4().hex}")
    except TransportError as exc:
        _unclaim(engine, issue_id)
        return f"review reminder for issue #{number} not sent: {exc.message}"
    sent = sum(result.ok for result in results)
    return f"review reminder for issue #{number} sent to {sent} editor(s)"


def _claim_due(
    session: Session, settings: Settings, *, now: datetime
) -> tuple[int, int, datetime] | None:
    _period, goes_out_at = upcoming_slot(session, settings, now=now)
    if not now <= goes_out_at <= now + timedelta(hours=settings.review_notice_hours):
        return None
    draft = issues.find_draft(session)
    if draft is not None and draft.review_notice_at is not None:
        return None  # the cheap check first: told already
    try:
        issues.compose_issue(session, settings, now=now)
    except NothingToSend:
        return None
    issue = issues.claim_issue(session, settings, now=now, period_at=goes_out_at)
    if issue.id is None or issue.approved_hash == content_hash(session, settings, issue, now=now):
        return None
    won = session.execute(
        update(Issue)
        .where(col(Issue.id) == issue.id, col(Issue.review_notice_at).is_(None))
        .values(review_notice_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return issue.number, issue.id, goes_out_at


def _unclaim(engine: Engine, issue_id: int) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(Issue).where(col(Issue.id) == issue_id).values(review_notice_at=None)
        )


def _email(settings: Settings, to: str, number: int, goes_out_at: datetime) -> OutgoingEmail:
    local = goes_out_at.astimezone(settings.tz)
    when = f"{local:%a} {local.day} {local:%b %H:%M} {settings.timezone}"
    desk = f"{settings.base_url}/editor"
    text = (
        f"Issue #{number} of {settings.newsletter_name} is ready for review.\n\n"
        f"It goes out {when} once an editor approves it (DIGEST_REVIEW=required);\n"
        f"until then it waits. Review and approve it on the desk:\n\n{desk}\n"
    )
    html = (
        f"<p>Issue #{number} of {escape(settings.newsletter_name)} is ready for review.</p>"
        f"<p>It goes out {escape(when)} once an editor approves it; until then it waits.</p>"
        f'<p><a href="{escape(desk)}">Review and approve it on the desk</a></p>'
    )
    return OutgoingEmail(
        reference=f"review-i{number}-{uuid.uuid4().hex[:8]}",
        to=to,
        from_email=settings.from_email,
        subject=f"Issue #{number} is ready for review",
        html=html,
        text=text,
        tags={"kind": "review"},
    )
