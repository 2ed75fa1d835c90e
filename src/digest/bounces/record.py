"""Apply a bounce once, through the same domain function as the provider webhooks.

The message it is about is named only by a VERP address whose signature verifies (the
envelope recipient, the bounce's own headers, or a complaint's quoted Return-Path); then the
bounce becomes a DeliveryEvent for `webhooks.apply_event`. An address the bounce merely quotes
(Final-Recipient, a To header) is never trusted: anyone can mail us a forged report.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session

from digest.bounces.kinds import Bounce, BounceKind
from digest.config import Settings
from digest.transports.verp import verp_reference
from digest.webhooks import DeliveryEvent, EventType, apply_event

EVENT_TYPES = {
    BounceKind.HARD: EventType.BOUNCED,
    BounceKind.SOFT: EventType.BOUNCED,
    BounceKind.COMPLAINT: EventType.COMPLAINED,
    BounceKind.UNKNOWN: EventType.OTHER,
}
MAX_EVENT_ID = 200


def named_reference(bounce: Bounce, settings: Settings) -> str | None:
    """Our message reference, from the first candidate address that is a valid VERP of ours."""
    domain = settings.bounce_domain
    if domain is None:
        return None
    for address in bounce.verp_candidates:
        reference = verp_reference(settings.secret, domain, address)
        if reference is not None:
            return reference
    return None


def bounce_event(bounce: Bounce, reference: str | None) -> DeliveryEvent:
    """The bounce in the webhooks' vocabulary; its id is the bounce's Message-ID (per message
    of ours, so a forged report cannot take the id of a real one about someone else)."""
    event_id = f"bounce:{reference or '-'}:{bounce.message_id}"
    if len(event_id) > MAX_EVENT_ID:
        event_id = "bounce:sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    finding = bounce.finding
    return DeliveryEvent(
        event_id=event_id,
        type=EVENT_TYPES[finding.kind],
        raw_type=f"smtp.{finding.kind}",
        email_id=None,
        recipients=(),
        permanent=finding.kind is BounceKind.HARD,
        detail=f"{finding.kind}: {finding.detail}"[:200],
        reference=reference,
    )


def record_bounce(session: Session, bounce: Bounce, *, settings: Settings, now: datetime) -> str:
    """Apply the bounce once (by its id); return what was done, for the log."""
    reference = named_reference(bounce, settings)
    event = bounce_event(bounce, reference)
    outcome = apply_event(session, event, now=now, soft_limit=settings.bounce_soft_limit)
    if reference is None and bounce.kind is not BounceKind.UNKNOWN and "duplicate" not in outcome:
        outcome = "kept: no signed VERP address names a message of ours; nobody suppressed"
    return f"{bounce.kind} ({bounce.format}): {outcome}"
