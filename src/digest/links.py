"""Absolute URLs this service puts in emails and pages, and a recipient's personal values."""

from __future__ import annotations

from datetime import datetime

from digest.config import Settings
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


def data_url(settings: Settings, subscriber_id: int, *, email_hash: str, now: datetime) -> str:
    """The short-lived link to download or erase one's data (DIGEST_DATA_LINK_MINUTES)."""
    token = make_token(settings.secret, Purpose.DATA, subscriber_id, email_hash=email_hash, now=now)
    return f"{settings.base_url}/data/{token}"


def issue_url(settings: Settings, number: int) -> str:
    return f"{settings.base_url}/issues/{number}"


def recipient_values(
    settings: Settings, subscriber_id: int, *, email_hash: str, now: datetime
) -> dict[str, str]:
    """The values `render.personal.CompiledBody.fill` joins into one recipient's copy.

    `email_hash` is the row's stored hash, whose first digits bind the links to this reader.
    The values are plain URLs: the caller escapes them for the HTML part.
    """
    return {
        "unsubscribe_url": unsubscribe_url(settings, subscriber_id, email_hash=email_hash, now=now),
        "preferences_url": preferences_url(settings, subscriber_id, email_hash=email_hash, now=now),
    }


def anonymous_values(settings: Settings) -> dict[str, str]:
    """Values for copies nobody owns (web archive, editor preview): links go to generic pages."""
    return {
        "unsubscribe_url": f"{settings.base_url}/unsubscribe",
        "preferences_url": f"{settings.base_url}/preferences",
    }
