"""The provider's own engagement figures (Resend `email.opened` / `email.clicked`, when its
tracking is on), counted per issue and shown beside ours: the provider cannot tell a scanner
or an image proxy from a reader, so these are its numbers, not ours."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from digest.clicks.keys import insert_once
from digest.models import ProviderCount


def count_provider_event(session: Session, issue_id: int, event: str) -> None:
    """One more `event` ("opened", "clicked") for the issue (the caller applies each event id
    once)."""
    insert_once(session, ProviderCount, issue_id=issue_id, event=event, count=0)
    session.execute(
        update(ProviderCount)
        .where(col(ProviderCount.issue_id) == issue_id, col(ProviderCount.event) == event)
        .values(count=col(ProviderCount.count) + 1)
    )
