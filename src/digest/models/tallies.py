"""What the desk shows for a sent issue, counted once and kept (a cache the store can rebuild).

Counting a sent issue's copies, marks and the readers who left after it reads every row of
its ledger: about 0.3 s per 100,000 readers. The overview shows twelve issues and /api/stats
the same, so finished issues are counted in the background (`stats.refresh_tallies`) and the
pages read this row. Deleting every row loses nothing: the next refresh counts them again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class IssueTally(SQLModel, table=True):
    __tablename__ = "issue_tally"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    queued: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0  # readers who left after this issue
    counted_at: datetime = utc_field()
