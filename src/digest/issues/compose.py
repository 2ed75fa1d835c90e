"""The weekly issue before it is frozen: claim the period's row, compose its content, overrides.

At most one issue is a DRAFT at any time: "the next issue", which editors may give a subject
and a note. The draft takes the period it is sent in (claim moves an older unsent draft to the
current period), so issue numbers stay contiguous even across weeks without anything to send.
Uniqueness of period and number lives in the database; racing processes lose on the constraint
and re-read what the winner wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digest import catalog
from digest.catalog import ComparisonView
from digest.config import Settings
from digest.errors import Conflict, InvalidInput, NotFound, NothingToSend
from digest.issues.timing import parse_schedule, run_in_week, week_start
from digest.models import Comparison, Issue, IssueComparison, IssueStatus
from digest.render import check_markdown
from digest.text import one_line, strip_controls

FIRST_ISSUE_LOOKBACK = timedelta(days=7)
FROZEN = (IssueStatus.SENDING, IssueStatus.PAUSED, IssueStatus.SENT)
MAX_SUBJECT = 150
MAX_NOTE = 2000
CLAIM_ATTEMPTS = 5
WEEKS_AHEAD = 60  # more weeks than could ever be taken ahead of time


@dataclass(frozen=True)
class Composition:
    """What the next issue carries: full cards first, then the compact "more" list."""

    window_start: datetime
    cutoff: datetime
    featured: tuple[ComparisonView, ...]
    more: tuple[ComparisonView, ...]

    @property
    def all(self) -> tuple[ComparisonView, ...]:
        return self.featured + self.more

    def demote_last(self) -> Composition:
        """The oldest full card becomes the first compact entry (order stays newest first)."""
        return replace(self, featured=self.featured[:-1], more=self.featured[-1:] + self.more)


def period_of(now: datetime, tz: ZoneInfo) -> str:
    """The ISO week `now` falls in, in the newsletter's time zone: "2026-W47"."""
    year, week, _ = now.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def list_issues(session: Session) -> list[Issue]:
    """Every issue, newest first."""
    return list(session.exec(select(Issue).order_by(col(Issue.number).desc())).all())


def list_published(session: Session) -> list[Issue]:
    """Issues whose sending has begun (their web version is public), newest first."""
    query = select(Issue).where(col(Issue.status).in_(FROZEN)).order_by(col(Issue.number).desc())
    return list(session.exec(query).all())


def get_published(session: Session, number: int) -> Issue:
    issue = session.exec(
        select(Issue).where(Issue.number == number, col(Issue.status).in_(FROZEN))
    ).first()
    if issue is None:
        raise NotFound(f"there is no sent issue #{number}")
    return issue


def find_draft(session: Session) -> Issue | None:
    """The unsent draft ("the next issue"), if one was claimed."""
    query = select(Issue).where(Issue.status == IssueStatus.DRAFT, col(Issue.frozen_at).is_(None))
    return session.exec(query.order_by(col(Issue.number))).first()


def next_number(session: Session) -> int:
    return int(session.exec(select(func.coalesce(func.max(Issue.number), 0))).one()) + 1


def claim_issue(
    session: Session, settings: Settings, *, now: datetime, period_at: datetime | None = None
) -> Issue:
    """The issue row of a period (any status), creating or moving the draft if needed.

    The period is `period_at`'s, else now's: a scheduled run that starts late (a Sunday 23:00
    run at Monday 00:30) belongs to the week it was scheduled in, not the week it ran in.
    """
    period = period_of(period_at or now, settings.tz)
    for _ in range(CLAIM_ATTEMPTS):
        issue = _issue_for_period(session, period)
        if issue is None:
            issue = _move_stale_draft(session, period) or _create_draft(session, period, now=now)
        if issue is not None:
            return issue
    raise Conflict(f"could not claim the issue for {period}: too much contention, try again")


def _issue_for_period(session: Session, period: str) -> Issue | None:
    return session.exec(select(Issue).where(Issue.period == period)).first()


def _move_stale_draft(session: Session, period: str) -> Issue | None:
    """The unsent draft becomes this period's issue (same number, same overrides).

    Usually the draft is an older period's; it can be a later one when an editor set a subject
    on Monday and the Sunday-night run starts late: either way it is "the next issue".
    """
    draft = find_draft(session)
    if draft is None or draft.period == period:
        return None
    moved = session.execute(
        update(Issue)
        .where(col(Issue.id) == draft.id, col(Issue.period) == draft.period)
        .where(col(Issue.frozen_at).is_(None))
        .values(period=period)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return _issue_for_period(session, period) if moved.rowcount else None  # type: ignore[attr-defined]


def _create_draft(session: Session, period: str, *, now: datetime) -> Issue | None:
    """Insert the draft; None when a racing process won (the caller re-reads)."""
    issue = Issue(
        number=next_number(session), period=period, status=IssueStatus.DRAFT, created_at=now
    )
    try:
        with session.begin_nested():
            session.add(issue)
    except IntegrityError:
        session.expire_all()
        return None
    return issue


def compose_issue(session: Session, settings: Settings, *, now: datetime) -> Composition:
    """The comparisons published after the last frozen issue's cutoff, up to `now`, plus those
    it missed: dated inside its window but imported after it froze (published_at comes from the
    page, so a page imported at 08:05 can say 07:58). None that a frozen issue carried."""
    window_start, late_floor = _window(session, now=now)
    carried = select(IssueComparison.comparison_id).join(
        Issue, col(Issue.id) == IssueComparison.issue_id
    )
    new = col(Comparison.published_at) > window_start
    if late_floor is not None:
        late = (col(Comparison.created_at) > window_start) & (
            col(Comparison.published_at) > late_floor
        )
        new = or_(new, late)
    query = (
        select(Comparison)
        .where(new, Comparison.published_at <= now)
        .where(col(Comparison.id).not_in(carried.where(col(Issue.status).in_(FROZEN))))
        .order_by(col(Comparison.published_at).desc(), col(Comparison.id).desc())
    )
    views = catalog.load_views(session, session.exec(query).all())
    if not views:
        since = window_start.isoformat(timespec="minutes")
        raise NothingToSend(f"no new comparisons were published since {since}: nothing to send")
    cut = settings.max_comparisons
    return Composition(window_start, now, tuple(views[:cut]), tuple(views[cut:]))


def _window(session: Session, *, now: datetime) -> tuple[datetime, datetime | None]:
    """(window start, floor for late imports). The window starts at the last frozen issue's
    cutoff (the first issue looks back 7 days). A late import counts if it is dated after that
    issue's own window start: a back-filled archive of old pages is not this week's news."""
    last = session.exec(
        select(Issue.cutoff, Issue.window_start)
        .where(col(Issue.status).in_(FROZEN), col(Issue.cutoff).is_not(None))
        .order_by(col(Issue.cutoff).desc())
        .limit(1)
    ).first()
    if last is None or last[0] is None:
        return now - FIRST_ISSUE_LOOKBACK, None
    return last[0], last[1]


def set_overrides(
    session: Session, settings: Settings, *, subject: str | None, note: str | None, now: datetime
) -> Issue:
    """Set (or with None/"" clear) the next issue's subject and editor's note."""
    subject, note = _clean_overrides(subject, note)
    # The draft takes the week it goes out in (issues.next_issue says the same).
    _period, goes_out_at = upcoming_slot(session, settings, now=now)
    issue = claim_issue(session, settings, now=now, period_at=goes_out_at)
    if issue.frozen_at is not None:
        raise Conflict(f"issue #{issue.number} is already being sent; it can no longer change")
    issue.subject_override, issue.editor_note = subject, note
    session.add(issue)
    session.flush()
    return issue


def _clean_overrides(subject: str | None, note: str | None) -> tuple[str | None, str | None]:
    # Invisible control characters (pasted junk) break the MJML renderer: drop them.
    subject = one_line(strip_controls(subject or "")) or None  # one line: it becomes a header
    note = strip_controls(note or "").strip().replace("\r\n", "\n") or None
    problems = []
    if subject is not None and len(subject) > MAX_SUBJECT:
        problems.append(("subject", f"at most {MAX_SUBJECT} characters (got {len(subject)})"))
    if note is not None and len(note) > MAX_NOTE:
        problems.append(("note", f"at most {MAX_NOTE} characters (got {len(note)})"))
    problems.extend(("note", problem) for problem in check_markdown(note or ""))
    if problems:
        raise InvalidInput("editor overrides", problems)
    return subject, note


def upcoming_slot(session: Session, settings: Settings, *, now: datetime) -> tuple[str, datetime]:
    """(week, instant) of the first scheduled run at or after `now` whose week has no frozen
    issue: when the next issue goes out on schedule, and the week it is claimed for."""
    weekly, tz = parse_schedule(settings.send_schedule), settings.tz
    monday = week_start(now, tz)
    for ahead in range(WEEKS_AHEAD):
        run = run_in_week(weekly, tz, monday + timedelta(weeks=ahead))
        period = period_of(run, tz)
        if run >= now and frozen_in(session, period) is None:
            return period, run
    raise Conflict(f"no free week within {WEEKS_AHEAD} weeks of {now:%Y-%m-%d}")


def frozen_in(session: Session, period: str) -> Issue | None:
    """The period's issue if its sending has begun (sending, paused or sent)."""
    query = select(Issue).where(col(Issue.period) == period, col(Issue.status).in_(FROZEN))
    return session.exec(query).first()


def latest_published(session: Session) -> Issue | None:
    """The newest published issue (the archive's rule: sending, paused or sent), for the front
    page's sample."""
    statement = (
        select(Issue)
        .where(col(Issue.status).in_(FROZEN))
        .order_by(col(Issue.number).desc())
        .limit(1)
    )
    return session.exec(statement).first()
