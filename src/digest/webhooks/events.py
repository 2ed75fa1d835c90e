"""Our vocabulary for what a provider tells us about a message, whatever the provider."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventType(StrEnum):
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    OPENED = "opened"  # the provider's own open tracking: counted per issue, never per reader
    CLICKED = "clicked"  # the provider's own click tracking: likewise
    OTHER = "other"  # anything we do not act on (sent, delivery_delayed, ...)


@dataclass(frozen=True)
class DeliveryEvent:
    event_id: str  # the provider's id for this event (Resend: svix-id); applied once
    type: EventType
    raw_type: str  # the provider's own name, kept for the event log ("email.bounced")
    email_id: str | None  # the provider's id of the message it is about
    recipients: tuple[str, ...]
    permanent: bool  # for bounces: a hard bounce (retrying cannot help)
    detail: str
    # Our own reference of the message it is about ("i3-s42", a reader's mail), when the
    # provider names it in a way we signed (an SMTP bounce's VERP address); trusted like email_id.
    reference: str | None = None
