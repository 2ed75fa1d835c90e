"""The editor's desk: editor accounts, the audit log, and send requests from the browser.

An audit entry is written in the same transaction as the change it describes, so the log never
claims something that did not happen (and nothing happens without its entry). A send request
is a row the web stores and a scheduler or `digest worker` acts on: the web never sends.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field

MAX_ACTOR = 340  # "cli:" + a user name, or an editor's address (320)


class EditorAccount(SQLModel, table=True):
    """One editor who logs in with an address and a password (argon2id hash, never the password)."""

    __tablename__ = "editor_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)  # normalised: lower-case, trimmed
    password_hash: str = Field(max_length=200)
    owner: bool = False  # owners manage accounts
    created_at: datetime = utc_field(default_now=True)


class AuditEntry(SQLModel, table=True):
    """Who did what to which thing, and when."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field(index=True)
    actor: str = Field(max_length=MAX_ACTOR)  # an editor's address, "cli:<user>", "scheduler"
    action: str = Field(max_length=30, index=True)
    target: str = Field(default="", max_length=100, index=True)  # "issue 3", "reader 42"
    detail: str = Field(default="", max_length=1000)


class SendRequestKind(StrEnum):
    SEND = "send"  # send the next issue now
    RESUME = "resume"  # resume a paused or unfinished send


class SendRequest(SQLModel, table=True):
    """A "send now" or "resume" asked for from the desk, until a scheduler or worker acts on it.

    `open_key` holds the issue id while the request is open and NULL once it is done: its unique
    constraint lets one open request per issue exist (a second click finds the first), and
    unique constraints treat NULLs as distinct on SQLite and PostgreSQL alike.
    """

    __tablename__ = "send_request"

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), nullable=False)
    )
    kind: SendRequestKind = Field(sa_type=String(10))
    open_key: int | None = Field(default=None, unique=True)
    requested_by: str = Field(max_length=MAX_ACTOR)
    requested_at: datetime = utc_field()
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_at: datetime | None = utc_field(nullable=True)
    done_at: datetime | None = utc_field(nullable=True)
    outcome: str | None = Field(default=None, max_length=500)
