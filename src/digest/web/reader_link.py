"""The reader a link names, as a FastAPI dependency: a token is read once per request, in one
place, and a bad one becomes the same friendly 400 page on every route.

`ConfirmLink`, `UnsubscribeLink`, `PreferencesLink` and `DataLink` take the `{token}` path
parameter; `load`
reads the reader, `act` runs one state change in its own transaction, re-checking the token's
address tag inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest.config import Settings
from digest.db import session_scope
from digest.errors import NotFound, TokenError
from digest.models import Subscriber
from digest.readers import subscriptions
from digest.tokens import Purpose
from digest.web.deps import get_engine, now
from digest.web.pages import render_page

T = TypeVar("T")


class BadLink(Exception):
    """A forged, expired, damaged or misused link, or one whose reader is gone."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ReaderLink:
    engine: Engine
    settings: Settings
    purpose: Purpose
    token: str
    now: datetime

    def load(self) -> Subscriber:
        """The reader, read in its own read-only transaction."""
        return self.read(lambda _session, subscriber: subscriber)

    def read(self, query: Callable[[Session, Subscriber], T]) -> T:
        """`query(session, reader)` in one read-only transaction."""
        with session_scope(self.engine, read_only=True) as session:
            return query(session, self._find(session))

    def act(self, action: Callable[..., T], **kwargs: Any) -> T:
        """`action(session, reader_id, **kwargs)` in one write transaction."""
        with session_scope(self.engine) as session:
            subscriber = self._find(session)
            assert subscriber.id is not None
            return action(session, subscriber.id, **kwargs)

    def _find(self, session: Session) -> Subscriber:
        try:
            return subscriptions.subscriber_for_link(
                session,
                secret=self.settings.secret,
                purpose=self.purpose,
                token=self.token,
                max_age=max_age(self.settings, self.purpose),
                now=self.now,
            )
        except TokenError as exc:
            raise BadLink(exc.message) from None
        except NotFound:
            raise BadLink("this link no longer works") from None


def max_age(settings: Settings, purpose: Purpose) -> timedelta | None:
    """How long a link of `purpose` works: confirm links for days, data links for minutes."""
    if purpose is Purpose.CONFIRM:
        return timedelta(days=settings.confirm_max_age_days)
    if purpose is Purpose.DATA:
        return timedelta(minutes=settings.data_link_minutes)
    return None


def _link(purpose: Purpose) -> Callable[[Request, str], ReaderLink]:
    def dependency(request: Request, token: str) -> ReaderLink:
        return ReaderLink(get_engine(request), request.app.state.settings, purpose, token, now())

    return dependency


ConfirmLink = Annotated[ReaderLink, Depends(_link(Purpose.CONFIRM))]
UnsubscribeLink = Annotated[ReaderLink, Depends(_link(Purpose.UNSUBSCRIBE))]
PreferencesLink = Annotated[ReaderLink, Depends(_link(Purpose.PREFERENCES))]
DataLink = Annotated[ReaderLink, Depends(_link(Purpose.DATA))]


def bad_link_page(request: Request, exc: Exception) -> HTMLResponse:
    """The answer to every BadLink: what went wrong, and how to get a fresh link."""
    settings = request.app.state.settings
    reason = exc.reason if isinstance(exc, BadLink) else "this link no longer works"
    context = {
        "title": "This link does not work",
        "lines": [reason[:1].upper() + reason[1:] + ".", "No harm done. Ask for a fresh one:"],
        "links": [
            {"url": f"{settings.base_url}/", "label": "Subscribe again"},
            {"url": f"{settings.base_url}/preferences", "label": "Email me a link to my settings"},
        ],
    }
    return render_page(request, "notice.html", context, status_code=400)
