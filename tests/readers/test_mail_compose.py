"""The confirmation, "your link" and data emails: compiled once with markers and filled per
reader, they must be the very bytes a full render for that reader gives (HTML, text, subject,
headers), long words broken in the shown links but never in their hrefs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.config import Settings
from digest.models import (
    ConsentRoute,
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
)
from digest.readers import mail_compose
from digest.render import render_email
from digest.transports import OutgoingEmail
from tests.support.settings import make_test_settings

NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
LINK_KINDS = (MessageKind.CONFIRM, MessageKind.MANAGE, MessageKind.DATA)
LONG_NAME = "The Extraordinarily-Comprehensive_WeeklyArtificialIntelligenceToolVerdicts Letter"
LONG_ADDRESS = "Postfach 1234567890, Donaudampfschifffahrtsgesellschaftsstrasse 42, 12345 Wien"


def full_render(
    settings: Settings, message: TransactionalMessage, subscriber: Subscriber
) -> OutgoingEmail:
    """The email as a whole render for one reader gives it: what `compose` did before it
    compiled these bodies once (kept here as the reference)."""
    kind = MessageKind(message.kind)
    assert subscriber.id is not None and subscriber.email is not None
    context = {
        "newsletter_name": settings.newsletter_name,
        "postal_address": settings.postal_address,
        "expires_days": settings.confirm_max_age_days,
        "data_minutes": settings.data_link_minutes,
        **mail_compose._links(settings, subscriber.id, subscriber.email_hash, message.created_at),
        **mail_compose.SUBJECTS[kind](settings),
    }
    rendered = render_email(kind.value, context)
    return OutgoingEmail(
        reference=message.reference,
        to=subscriber.email,
        from_email=settings.from_email,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        headers={"Auto-Submitted": "auto-generated"},
        tags={"kind": kind.value},
    )


def reader(number: int) -> Subscriber:
    return Subscriber(
        id=number,
        email=f"reader{number}@example.com",
        email_hash=f"{number:064x}",
        status=SubscriberStatus.PENDING,
        consent_route=ConsentRoute.FORM,
    )


def message(kind: MessageKind, number: int) -> TransactionalMessage:
    made = NOW - timedelta(minutes=number)
    return TransactionalMessage(
        reference=f"{kind.value}-{number}",
        subscriber_id=number,
        kind=kind,
        status=MessageStatus.PENDING,
        next_attempt_at=made,
        created_at=made,
    )


SETTINGS = {
    "plain": {},
    "long name and address": {"newsletter_name": LONG_NAME, "postal_address": LONG_ADDRESS},
    # Links long enough to be broken where shown, with characters HTML must escape.
    "long base URL": {"base_url": "https://digest.test/a-very-long-path/with&ampersands'n\"quotes"},
}


@pytest.mark.parametrize("kind", LINK_KINDS, ids=lambda kind: kind.value)
@pytest.mark.parametrize("overrides", SETTINGS.values(), ids=list(SETTINGS))
def test_compiled_once_and_filled_is_the_full_render(
    tmp_path: Path, kind: MessageKind, overrides: dict[str, str]
) -> None:
    settings = make_test_settings(tmp_path, "sqlite://", **overrides)
    for number in (1, 2, 987654321):
        sent, subscriber = message(kind, number), reader(number)
        email = mail_compose.compose(settings, sent, subscriber)
        assert email == full_render(settings, sent, subscriber)


def test_shown_links_are_broken_and_hrefs_are_not(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path, "sqlite://")
    subscriber = reader(7)
    email = mail_compose.compose(settings, message(MessageKind.CONFIRM, 7), subscriber)
    assert email is not None
    url = mail_compose._links(settings, 7, subscriber.email_hash, NOW - timedelta(minutes=7))
    assert f'href="{url["confirm_url"]}"' in email.html
    assert url["confirm_url"] not in email.html.replace(f'href="{url["confirm_url"]}"', "")
    assert "<wbr>" in email.html
    assert url["confirm_url"] in email.text and "<wbr>" not in email.text


def test_each_kind_and_settings_is_compiled_once(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path, "sqlite://")
    for kind in LINK_KINDS:
        first = mail_compose.link_body(settings, kind)
        assert mail_compose.link_body(settings, kind) is first
    renamed = make_test_settings(tmp_path, "sqlite://", newsletter_name="Another Letter")
    assert mail_compose.link_body(renamed, MessageKind.CONFIRM) is not mail_compose.link_body(
        settings, MessageKind.CONFIRM
    )


def test_a_body_signs_only_the_links_it_carries(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path, "sqlite://")
    carried = {kind: mail_compose.link_body(settings, kind).links for kind in LINK_KINDS}
    assert carried == {
        MessageKind.CONFIRM: {"confirm_url"},
        MessageKind.MANAGE: {"preferences_url", "data_url"},
        MessageKind.DATA: {"data_url"},
    }
