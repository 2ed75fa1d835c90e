"""What a composition root builds once: the configured transport and the pacer it reports to."""

from __future__ import annotations

from typing import TypedDict

from digest.config import Settings
from digest.delivery import Pacer
from digest.transports import Transport, make_transport


class Wired(TypedDict):
    transport: Transport
    pacer: Pacer


def wired(settings: Settings) -> Wired:
    """`transport=` and `pacer=` for the scheduler's jobs, as `digest scheduler` builds them."""
    pacer = Pacer(settings.rate_limit)
    return {"transport": make_transport(settings, observer=pacer.observe), "pacer": pacer}
