"""Close an issue's click window (DIGEST_CLICK_WINDOW_DAYS after it was frozen): fold its
hits into counts, then delete the hits and the key. Afterwards no hash can be matched to a
delivery or a client any more, and only the counts remain.

Run hourly by the scheduler's maintenance and before the API reads figures.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from digest.clicks.figures import figures_from_hits
from digest.models import ClickCount, ClickHit, ClickKey, ClickLink, ClickTotal


def close_due_windows(session: Session, *, now: datetime) -> list[int]:
    """Close every window that is due; return the issue ids closed."""
    due = session.exec(select(ClickKey.issue_id).where(col(ClickKey.closes_at) <= now)).all()
    for issue_id in due:
        close_window(session, issue_id)
    return list(due)


def close_window(session: Session, issue_id: int) -> None:
    links = {
        link.link_id: link
        for link in session.exec(select(ClickLink).where(col(ClickLink.issue_id) == issue_id))
    }
    figures = figures_from_hits(session, issue_id, links)
    for link in figures.links:
        session.merge(
            ClickCount(
                issue_id=issue_id,
                link_id=link.link_id,
                raw_hits=link.raw_hits,
                raw_unique=link.raw_unique,
                human_hits=link.human_hits,
                human_unique=link.human_unique,
            )
        )
    session.merge(
        ClickTotal(
            issue_id=issue_id,
            raw_hits=figures.raw_hits,
            human_hits=figures.human_hits,
            human_clickers=figures.human_clickers,
            canary_hits=figures.canary_hits,
            human_openers=figures.human_openers,
            proxy_opens=figures.proxy_opens,
        )
    )
    session.execute(delete(ClickHit).where(col(ClickHit.issue_id) == issue_id))
    session.execute(delete(ClickKey).where(col(ClickKey.issue_id) == issue_id))
