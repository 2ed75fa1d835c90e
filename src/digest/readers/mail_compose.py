"""What each transactional message says, rendered from templates/email/{kind}.mjml.j2 and .txt.j2.

Nothing a visitor typed goes into these emails (not even the name): they go to an address anyone
could have typed, so they must not carry an attacker's words to a stranger's inbox.
"""

from __future__ import annotations

from datetime import datetime

from digest import links
from digest.config import Settings
from digest.models import MessageKind, Subscriber, SubscriberStatus, TransactionalMessage
from digest.render import render_email
from digest.transports import OutgoingEmail

# Who may still receive each kind: a confirmation only goes to someone not yet (re)confirmed.
RECIPIENTS = {
    MessageKind.CONFIRM: frozenset({SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED}),
    MessageKind.MANAGE: frozenset(
        {SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED, SubscriberStatus.UNSUBSCRIBED}
    ),
    MessageKind.DATA: frozenset(
        {SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED, SubscriberStatus.UNSUBSCRIBED}
    ),
}


def compose(
    settings: Settings, message: TransactionalMessage, subscriber: Subscriber
) -> OutgoingEmail | None:
    """The email for `message`, or None when its reader may no longer receive it."""
    kind = MessageKind(message.kind)
    if subscriber.email is None or subscriber.status not in RECIPIENTS[kind]:
        return None
    assert subscriber.id is not None
    context = {
        "newsletter_name": settings.newsletter_name,
        "postal_address": settings.postal_address,
        "expires_days": settings.confirm_max_age_days,
        "data_minutes": settings.data_link_minutes,
        **_links(settings, subscriber.id, subscriber.email_hash, message.created_at),
        **SUBJECTS[kind](settings),
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


def _links(settings: Settings, reader: int, fingerprint: str, made: datetime) -> dict[str, str]:
    """The reader's links, stamped with the message's creation time: every retry renders the
    same bytes (and a data link's few minutes count from when it was asked for)."""
    return {
        "confirm_url": links.confirm_url(settings, reader, email_hash=fingerprint, now=made),
        "preferences_url": links.preferences_url(
            settings, reader, email_hash=fingerprint, now=made
        ),
        "data_url": links.data_url(settings, reader, email_hash=fingerprint, now=made),
    }


def _confirm_subject(settings: Settings) -> dict[str, str]:
    return {
        "subject": f"Confirm your subscription to {settings.newsletter_name}",
        "preheader": "One click and the next issue is yours.",
    }


def _manage_subject(settings: Settings) -> dict[str, str]:
    return {
        "subject": f"Your {settings.newsletter_name} settings link",
        "preheader": "Change your name, unsubscribe, download or erase your data.",
    }


def _data_subject(settings: Settings) -> dict[str, str]:
    return {
        "subject": f"Your data at {settings.newsletter_name}",
        "preheader": "The link to download or erase it, valid for a short while.",
    }


SUBJECTS = {
    MessageKind.CONFIRM: _confirm_subject,
    MessageKind.MANAGE: _manage_subject,
    MessageKind.DATA: _data_subject,
}
