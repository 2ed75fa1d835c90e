"""Bounces and complaints that come back by mail (SMTP senders): read them, apply them once.

    kinds.py     BounceKind, Finding, Bounce: what a bounce message says, in our words
    mail.py      hostile-input-safe reading of a message: bounded size, parts, text, headers
    patterns.py  hard or soft: enhanced status codes and the words servers use
    reports.py   the standard reports: DSN (RFC 3464) and ARF feedback (RFC 5965)
    plain.py     the common non-standard bounces (qmail, Exim, Exchange, providers' own words)
    read.py      read_bounce: raw bytes in, a Bounce out; never raises on bad input
    record.py    record_bounce: the signed VERP address names the message; webhooks.apply_event

Rule: a bounce is input from anyone. Only a VERP address whose signature verifies names a
message and so a reader; nothing is suppressed on the strength of an address a bounce quotes.
"""

from digest.bounces.kinds import Bounce, BounceKind, Finding
from digest.bounces.read import read_bounce
from digest.bounces.record import bounce_event, named_reference, record_bounce

__all__ = [
    "Bounce",
    "BounceKind",
    "Finding",
    "bounce_event",
    "named_reference",
    "read_bounce",
    "record_bounce",
]
