"""A send's health (issue 12): the running totals its circuit breaker reads."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel


class SendHealth(SQLModel, table=True):
    """Running totals the circuit breaker reads once per batch (kept incrementally, never
    counted over the ledger): accepted by the provider, hard bounces, complaints."""

    __tablename__ = "send_health"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    accepted: int = 0
    hard_bounces: int = 0
    complaints: int = 0
