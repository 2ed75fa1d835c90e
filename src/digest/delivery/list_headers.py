"""The headers bulk mail carries besides From, To and Subject.

- `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 2369, RFC 8058 one-click), when the copy
  has a reader's own link;
- `List-Id` (RFC 2919): the newsletter's name and a stable id under the sending domain,
  `Weekly AI Tool Verdicts <weekly-ai-tool-verdicts.aitoolverdicts.example>`;
- `Feedback-ID` (Gmail's feedback loop, `a:b:SenderId`): issue number, kind of mail and the
  same sender id, `12:issue:weekly-ai-tool-verdicts`; never unique per message.

Values are plain text: the transports write them (encoding, folding, IDNA) on the wire.
"""

from __future__ import annotations

import re

from digest.config import Settings
from digest.errors import ConfigError
from digest.transports.address import AddressError, sending_domain

DEFAULT_LABEL = "newsletter"


def one_click(unsubscribe_url: str) -> dict[str, str]:
    """A reader's own one-click unsubscribe (Gmail and Yahoo require it of bulk senders)."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def list_headers(settings: Settings, *, issue_number: int, kind: str) -> dict[str, str]:
    """List-Id and Feedback-ID of every copy of issue `issue_number` ("issue" or "test")."""
    return {
        "List-Id": f"{settings.newsletter_name} <{list_id(settings)}>",
        "Feedback-ID": f"{issue_number}:{kind}:{list_label(settings)}",
    }


def list_id(settings: Settings) -> str:
    """`label.sending-domain`, stable for the life of the list (it names the list, not a send)."""
    try:
        domain = sending_domain(settings.from_email)
    except AddressError as exc:
        raise ConfigError(f"DIGEST_FROM_EMAIL cannot be sent from: {exc}") from None
    return f"{list_label(settings)}.{domain}"


def list_label(settings: Settings) -> str:
    """The newsletter's name as a DNS label: lower-case ASCII letters, digits and dashes."""
    label = re.sub(r"[^a-z0-9]+", "-", settings.newsletter_name.lower()).strip("-")[:50]
    return label.strip("-") or DEFAULT_LABEL
