"""Requests anyone on the web may make for a reader's mail, kept until they are acted on.

The web edge stores a request and answers at once; the work that depends on the address (is it
known? confirmed? over its limit?) happens afterwards (`readers.signup.process_requests`), so the
answer cannot tell, not even by its timing. The row is deleted in the transaction that acts on
it: a crash in between leaves it to be acted on later, never twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field
from digest.models.subscribers import ConsentRoute


class RequestKind(StrEnum):
    SUBSCRIBE = "subscribe"  # POST /subscribe
    MANAGE_LINK = "manage_link"  # POST /preferences: "email me the link to my settings"


class ReaderRequest(SQLModel, table=True):
    __tablename__ = "reader_request"

    id: int | None = Field(default=None, primary_key=True)
    kind: RequestKind = Field(sa_type=String(20))
    email: str = Field(max_length=320)  # normalised, as the reader typed it
    name: str | None = Field(default=None, max_length=100)
    # SUBSCRIBE: the topics asked for, encoded as `Subscriber.pending_topics` ("all" or "3,5");
    # NULL (a manage-link request, or a row stored before topics existed): every topic.
    topics: str | None = Field(default=None, max_length=1000)
    # SUBSCRIBE: ticked "record which links I click" (DIGEST_TRACK_CLICKS=consented)
    click_consent: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    route: ConsentRoute = Field(sa_type=String(10))
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=500)
    received_at: datetime = utc_field()
    # The form stamp the request carried (judged good when it came), spent when the request
    # is acted on: a replay is stored, then dropped. NULL: a trusted proxy's request.
    form_stamp: str | None = Field(default=None, max_length=120)
