"""Absolute URLs this service puts in emails and pages, and a recipient's personal values."""

from __future__ import annotations

from datetime import datetime
from html import escape

from digest.config import Settings
from digest.personalise import marker
from digest.tokens import Purpose, make_token


def confirm_url(settings: Settings, subscriber_id: int, *, email_hash: str, now: datetime) -> str:
    token = make_token(
        settings.secret, Purpose.CONFIRM, subscriber_id, email_hash=email_hash, now=now
    )
    return f"{settings.base_url}/confirm/{token}"


def unsubscribe_url(
    settings: Settings, subscriber_id: int, *, email_hash: str, now: datetime
) -> str:
    token = make_token(
        settings.secret, Purpose.UNSUBSCRIBE, subscriber_id, email_hash=email_hash, now=now
    )
    return f"{settings.base_url}/unsubscribe/{token}"


def preferences_url(
    settings: Settings, subscriber_id: int, *, email_hash: str, now: datetime
) -> str:
    token = make_token(
        settings.secret, Purpose.PREFERENCES, subscriber_id, email_hash=email_hash, now=now
    )
    return f"{settings.base_url}/preferences/{token}"


def issue_url(settings: Settings, number: int) -> str:
    return f"{settings.base_url}/issues/{number}"


def recipient_values(
    settings: Settings,
    subscriber_id: int,
    name: str | None,
    *,
    email_hash: str,
    now: datetime,
    html: bool,
) -> dict[str, str]:
    """The values `personalise.CompiledBody.fill` joins into one recipient's copy.

    `email_hash` is the row's stored hash, whose first digits bind the links to this reader.
    The name is the only thing a reader typed; it is escaped for the HTML part.
    """
    greeting = (name or "").strip()
    unsubscribe = unsubscribe_url(settings, subscriber_id, email_hash=email_hash, now=now)
    preferences = preferences_url(settings, subscriber_id, email_hash=email_hash, now=now)
    return {
        "unsubscribe_url": escape(unsubscribe) if html else unsubscribe,
        "preferences_url": escape(preferences) if html else preferences,
        "greeting_name": escape(greeting) if html else greeting,
    }


def anonymous_values(settings: Settings) -> dict[str, str]:
    """Values for copies nobody owns (web archive, editor preview): links go to generic pages."""
    return {
        "unsubscribe_url": f"{settings.base_url}/unsubscribe",
        "preferences_url": f"{settings.base_url}/preferences",
        "greeting_name": "",
    }


__all__ = [
    "anonymous_values",
    "confirm_url",
    "issue_url",
    "marker",
    "preferences_url",
    "recipient_values",
    "unsubscribe_url",
]
