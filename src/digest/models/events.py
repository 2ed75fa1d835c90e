"""What the edges keep in the store so it holds across processes and restarts: abuse counters,
the provider events we accepted, and the editor's sessions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class RateCounter(SQLModel, table=True):
    """Requests seen for one key ("ip:..." or "addr:<hash>") in one fixed window."""

    __tablename__ = "rate_counter"
    # The sweep of old windows (throttle._sweep) runs as each new window starts: by index, not
    # by reading every counter inside a signup's transaction.
    __table_args__ = (Index("ix_rate_counter_window_start", "window_start"),)

    key: str = Field(max_length=100, primary_key=True)
    window_start: datetime = utc_field(primary_key=True)
    hits: int = 0


class WebhookEvent(SQLModel, table=True):
    """A provider event we accepted, by its svix-id: Resend retries, we apply once."""

    __tablename__ = "webhook_event"

    id: int | None = Field(default=None, primary_key=True)
    svix_id: str = Field(max_length=200, unique=True)
    event_type: str = Field(max_length=60)
    provider_email_id: str | None = Field(default=None, max_length=200, index=True)
    outcome: str = Field(max_length=200)  # what we did, for operators reading the table
    received_at: datetime = utc_field()


class EditorSession(SQLModel, table=True):
    """A logged-in editor: the cookie carries a random id, the store only its sha256, so that
    logging out (deleting the row) ends the session wherever the cookie was copied to."""

    __tablename__ = "editor_session"

    id_hash: str = Field(max_length=64, primary_key=True)
    created_at: datetime = utc_field()
    expires_at: datetime = utc_field(index=True)
    # The account logged in; NULL for the shared DIGEST_EDITOR_PASSWORD. Removing the account
    # removes its sessions.
    account_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("editor_account.id", ondelete="CASCADE"), nullable=True
        ),
    )
