"""What goes out next, and when: one answer that the preview, `issue send` (and its dry run),
the editor's page and the demo all print.

An issue whose sending is unfinished goes out first, now. Otherwise the next issue is the draft
(or the number it would get), and it goes out at the first scheduled run whose week has no
issue yet: this week's run if it is still ahead and this week is free, else a later week's.
The week is the run's, in DIGEST_TIMEZONE, as the scheduler claims it. A send by hand
(`digest issue send`) may go out earlier, as the current week's issue, when that is free.

Readers are told the same instant (`next_issue_at`): the welcome email says it (and is skipped
when it is near); the front page says the schedule itself in words (`timing.describe_schedule`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from digest import catalog
from digest.catalog import ComparisonView
from digest.config import Settings
from digest.errors import ConfigError, Conflict, NothingToSend
from digest.issues.compose import (
    compose_issue,
    find_draft,
    frozen_in,
    next_number,
    period_of,
    upcoming_slot,
)
from digest.models import Comparison, Issue, IssueComparison, IssueStatus

UNFINISHED = (IssueStatus.SENDING, IssueStatus.PAUSED)


@dataclass(frozen=True)
class NextIssue:
    number: int
    period: str  # the week it is claimed for when it goes out at `goes_out_at`
    goes_out_at: datetime  # UTC; `now` for an unfinished issue
    timezone: str
    comparisons: tuple[ComparisonView, ...]  # what it carries if it froze now (maybe none)
    resuming: bool = False  # frozen earlier; its sending is unfinished
    sent_this_week: int | None = None  # the number of the issue already sent for now's week

    @property
    def sendable_now(self) -> bool:
        """Would `digest issue send` send something now (resume, or this week's issue)?"""
        return self.resuming or (self.sent_this_week is None and bool(self.comparisons))

    def when(self) -> str:
        """ "Mon 7 Dec 08:00 Europe/Berlin", in the newsletter's zone."""
        local = self.goes_out_at.astimezone(ZoneInfo(self.timezone))
        return f"{local:%a} {local.day} {local:%b %H:%M} {self.timezone}"

    def describe(self) -> str:
        """The one line every command prints."""
        if self.resuming:
            return (
                f"#{self.number} goes out now (its sending is unfinished; digest issue send "
                f"resumes it) with these {len(self.comparisons)} comparisons"
            )
        if not self.comparisons:
            return (
                f"#{self.number} goes out {self.when()} if comparisons are published by then "
                "(none yet)"
            )
        count = len(self.comparisons)
        return f"#{self.number} goes out {self.when()} with these {count} comparisons"


def next_issue(session: Session, settings: Settings, *, now: datetime) -> NextIssue:
    """What goes out next, and when (see the module's docstring)."""
    pending = session.exec(
        select(Issue).where(col(Issue.status).in_(UNFINISHED)).order_by(col(Issue.number))
    ).first()
    if pending is not None:
        return NextIssue(
            number=pending.number,
            period=pending.period,
            goes_out_at=now,
            timezone=settings.timezone,
            comparisons=_carried(session, pending),
            resuming=True,
        )
    return upcoming_issue(session, settings, now=now)


def upcoming_issue(session: Session, settings: Settings, *, now: datetime) -> NextIssue:
    """The next issue not yet frozen, and when the schedule sends it."""
    period, at = upcoming_slot(session, settings, now=now)
    draft = find_draft(session)
    this_week = frozen_in(session, period_of(now, settings.tz))
    return NextIssue(
        number=draft.number if draft else next_number(session),
        period=period,
        goes_out_at=at,
        timezone=settings.timezone,
        comparisons=_composed(session, settings, now=now),
        sent_this_week=this_week.number if this_week is not None else None,
    )


def next_issue_at(session: Session, settings: Settings, *, now: datetime) -> datetime | None:
    """When the next issue not yet frozen goes out on schedule (`NextIssue.goes_out_at`, unless
    an unfinished one is resuming: a reader who joins now is not in that one). None when
    DIGEST_SEND_SCHEDULE is unusable: the scheduler refuses it, pages and mail just say less."""
    try:
        return upcoming_slot(session, settings, now=now)[1]
    except (ConfigError, Conflict):
        return None


def _composed(session: Session, settings: Settings, *, now: datetime) -> tuple[ComparisonView, ...]:
    try:
        return compose_issue(session, settings, now=now).all
    except NothingToSend:
        return ()


def _carried(session: Session, issue: Issue) -> tuple[ComparisonView, ...]:
    query = (
        select(Comparison)
        .join(IssueComparison, col(IssueComparison.comparison_id) == col(Comparison.id))
        .where(IssueComparison.issue_id == issue.id)
        .order_by(col(IssueComparison.position))
    )
    return tuple(catalog.load_views(session, session.exec(query).all()))
