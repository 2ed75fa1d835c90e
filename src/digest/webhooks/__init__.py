"""Provider feedback: delivered, bounced, complained; a bad address is never mailed again.

    events.py  DeliveryEvent and EventType: our vocabulary, whatever the provider
    resend.py  Resend's Svix signature check and JSON, read into a DeliveryEvent
    apply.py   apply an event once (by its id): mark the delivery, suppress the reader

Rule: a provider's own event names stop in its module; a second provider plugs in beside
`resend.py` and hands `apply_event` the same DeliveryEvent.
"""

from digest.webhooks.apply import apply_event
from digest.webhooks.events import DeliveryEvent, EventType
from digest.webhooks.resend import parse_event, verify_signature

__all__ = ["DeliveryEvent", "EventType", "apply_event", "parse_event", "verify_signature"]
