"""The "Readers' pick" (DIGEST_READERS_PICK=on): the comparison people clicked most in the
previous issue, named in the next one. Only human unique clicks count, never scanners'."""

from __future__ import annotations

from sqlmodel import Session, col, select

from digest.clicks.figures import issue_click_figures
from digest.config import Settings, Switch
from digest.models import Issue, IssueStatus

PUBLISHED = (IssueStatus.SENDING, IssueStatus.PAUSED, IssueStatus.SENT)


def readers_pick(session: Session, settings: Settings, *, number: int) -> tuple[str, str] | None:
    """(title, URL) of the most-clicked comparison of the issue before issue `number`; None
    when the setting is off, there is no such issue, or nobody clicked."""
    if settings.readers_pick is not Switch.ON:
        return None
    previous = session.exec(
        select(Issue)
        .where(col(Issue.number) < number, col(Issue.status).in_(PUBLISHED))
        .order_by(col(Issue.number).desc())
    ).first()
    if previous is None or previous.id is None:
        return None
    links = issue_click_figures(session, previous.id).links
    top = next((link for link in links if link.human_unique > 0), None)
    return (top.label, top.url) if top else None
