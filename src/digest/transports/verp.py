"""VERP: an envelope sender per message that names it, signed, so a bounce names its message.

`bounces+<reference>-<signature>@DIGEST_BOUNCE_DOMAIN`, where the reference is ours (an issue
delivery "i3-s42", a reader's own mail "confirm-s42-..."), and the signature is the first 16 hex
digits of an HMAC-SHA256 over it under the secret key. Remote servers send their bounces to that
address even when they quote nothing of the message; a forged or altered address verifies to
nothing. Lower case only: some servers lower-case the local part they bounce to.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from digest.config import Settings
from digest.transports.base import OutgoingEmail

PREFIX = "bounces"
SIGNATURE_DIGITS = 16
MAX_LOCAL_PART = 64  # RFC 5321
_REFERENCE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ADDRESS = re.compile(
    rf"{PREFIX}\+([a-z0-9-]{{1,64}})-([0-9a-f]{{{SIGNATURE_DIGITS}}})@([a-z0-9.-]{{1,253}})"
)


def _signature(secret: str, reference: str) -> str:
    digest = hmac.new(secret.encode(), f"verp:{reference}".encode(), hashlib.sha256)
    return digest.hexdigest()[:SIGNATURE_DIGITS]


def verp_address(secret: str, domain: str, reference: str) -> str | None:
    """The envelope sender for the message `reference`; None if it cannot carry one."""
    reference = reference.lower()
    if not _REFERENCE.fullmatch(reference):
        return None
    local = f"{PREFIX}+{reference}-{_signature(secret, reference)}"
    return f"{local}@{domain}" if len(local) <= MAX_LOCAL_PART else None


def verp_reference(secret: str, domain: str, address: str) -> str | None:
    """The reference an address of ours names, if its signature verifies; None otherwise."""
    candidate = address.strip().strip("<>").strip().lower()
    if len(candidate) > 320:
        return None
    match = _ADDRESS.fullmatch(candidate)
    if match is None or match.group(3) != domain.lower():
        return None
    reference, given = match.group(1), match.group(2)
    if not hmac.compare_digest(given, _signature(secret, reference)):
        return None
    return reference


def envelope_sender(settings: Settings) -> Callable[[OutgoingEmail], str | None] | None:
    """What the SMTP transport uses as MAIL FROM per message; None without a bounce domain."""
    domain = settings.bounce_domain
    if domain is None:
        return None
    secret = settings.secret
    return lambda email: verp_address(secret, domain, email.reference)
