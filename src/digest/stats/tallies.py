"""Sent issues' figures counted in the background and kept (`IssueTally`), so the overview and
/api/stats read twelve rows instead of a million.

An issue is recounted every `every` while it is young (events and unsubscribes arrive in the
days after a send); once it is older than `settle` and counted after that, its tally is final
and never read from the ledger again. A sending or paused issue has no tally: its figures are
counted live (they are changing, and one issue is cheap enough).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from digest.models import Issue, IssueStatus, IssueTally
from digest.stats.issues import live_figures

REFRESH_EVERY = timedelta(minutes=5)
SETTLE = timedelta(days=7)  # after a week, late events are rare enough to stop recounting


def due_issues(
    session: Session, *, now: datetime, every: timedelta = REFRESH_EVERY, settle: timedelta = SETTLE
) -> list[int]:
    """Sent issues never counted, or young and counted more than `every` ago, or counted
    before they settled."""
    tallies = {t.issue_id: t.counted_at for t in session.exec(select(IssueTally)).all()}
    sent = session.exec(
        select(Issue.id, Issue.sent_at).where(col(Issue.status) == IssueStatus.SENT)
    ).all()
    due = []
    for issue_id, sent_at in sent:
        counted = tallies.get(issue_id or 0)
        settled_at = (sent_at or now) + settle
        if counted is None or (counted < settled_at and now - counted >= every):
            due.append(issue_id or 0)
    return due


def refresh_tallies(session: Session, *, now: datetime, limit: int = 20) -> int:
    """Count up to `limit` due issues (the oldest-counted first); returns how many."""
    due = due_issues(session, now=now)[:limit]
    for issue_id in due:
        issue = session.get(Issue, issue_id)
        if issue is not None:
            keep_figures(session, issue, now=now)
    session.flush()
    return len(due)


def keep_figures(session: Session, issue: Issue, *, now: datetime, final: bool = False) -> None:
    """Count `issue`'s figures from its ledger into its tally. `final`: never recount it (the
    ledger is about to be compacted, so a later count would find no per-reader rows)."""
    assert issue.id is not None
    figures = live_figures(session, issue)
    tally = session.get(IssueTally, issue.id) or IssueTally(issue_id=issue.id, counted_at=now)
    for field in ("sent", "failed", "skipped", "queued", "delivered", "bounced",
                  "complained", "unsubscribed"):  # fmt: skip
        setattr(tally, field, getattr(figures, field))
    settled = (issue.sent_at or now) + SETTLE
    tally.counted_at = max(now, settled) if final else now
    session.add(tally)
