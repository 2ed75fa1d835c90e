"""One recipient's copy of a frozen issue: personal links joined in, list headers, the issue tag.

Bodies are compiled once per issue; every value is deterministic (tokens carry no time), so a
batch built again after a crash is byte-for-byte the payload sent under its key the first time.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from digest import links
from digest.config import Settings
from digest.delivery.claims import Claim, Recipient
from digest.delivery.list_headers import list_headers, one_click
from digest.errors import Conflict
from digest.models import Issue
from digest.render import compile_body
from digest.transports import OutgoingEmail


class Composer:
    def __init__(self, settings: Settings, issue: Issue, *, now: datetime) -> None:
        if issue.id is None or not issue.subject or issue.html is None or issue.text is None:
            raise Conflict(f"issue #{issue.number} is not frozen yet; nothing can be sent")
        self.settings, self.issue, self.now = settings, issue, now
        self.issue_id: int = issue.id
        self.html = compile_body(issue.html)
        self.text = compile_body(issue.text)
        self.list_headers = list_headers(settings, issue_number=issue.number, kind="issue")

    def build(self, claim: Claim) -> list[OutgoingEmail]:
        return [self.for_recipient(r) for r in claim.recipients]

    def for_recipient(self, recipient: Recipient) -> OutgoingEmail:
        sid, settings = recipient.subscriber_id, self.settings
        # Signing is the costly part: sign each link once, then escape it for the HTML part.
        plain = links.recipient_values(settings, sid, email_hash=recipient.email_hash, now=self.now)
        markup = {name: escape(value) for name, value in plain.items()}
        return OutgoingEmail(
            reference=recipient.reference(self.issue_id),
            to=recipient.email,
            from_email=settings.from_email,
            subject=self.issue.subject or "",
            html=self.html.fill(markup),
            text=self.text.fill(plain),
            headers={**one_click(plain["unsubscribe_url"]), **self.list_headers},
            tags={"issue": str(self.issue.number)},
        )
