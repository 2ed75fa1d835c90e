"""The weekly issue: claim the period's row, compose its content, freeze it for sending."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from digest.models import Issue


def period_of(now: datetime, tz: ZoneInfo) -> str:
    """The ISO week `now` falls in, in the newsletter's time zone: "2026-W47"."""
    year, week, _ = now.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def list_issues(session: Session) -> list[Issue]:
    """Every issue, newest first."""
    return list(session.exec(select(Issue).order_by(col(Issue.number).desc())).all())
