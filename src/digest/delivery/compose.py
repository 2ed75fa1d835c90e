"""One recipient's copy of a frozen issue (or of its topic variant): personal links and the
greeting joined in, list headers, the issue tag.

Bodies are compiled once per issue and once per topic variant; every value is deterministic
(tokens carry no time; the variant and the greeting name were fixed at enqueue), so a batch
built again after a crash is byte-for-byte the payload sent under its key the first time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digest import links
from digest.clicks import IssueTracking
from digest.config import Settings
from digest.delivery.claims import Claim, Recipient
from digest.delivery.list_headers import list_headers, one_click
from digest.errors import Conflict
from digest.models import Issue, IssueVariant
from digest.render import CompiledBody, compile_body, personal_values
from digest.transports import OutgoingEmail


@dataclass(frozen=True)
class Copy:
    """One frozen copy (the issue's, or a topic variant), its bodies split at the markers."""

    subject: str
    html: CompiledBody
    text: CompiledBody


class Composer:
    def __init__(
        self,
        settings: Settings,
        issue: Issue,
        *,
        now: datetime,
        variants: Sequence[IssueVariant] = (),
        tracking: IssueTracking | None = None,
        fetch: Callable[[int], IssueVariant | None] | None = None,
    ) -> None:
        if issue.id is None or not issue.subject or issue.html is None or issue.text is None:
            raise Conflict(f"issue #{issue.number} is not frozen yet; nothing can be sent")
        self.settings, self.issue, self.now = settings, issue, now
        self.issue_id: int = issue.id
        self.tracking = tracking
        # Variants rendered after the send began (the enqueue renders them chunk by chunk).
        self.fetch = fetch
        self.copies: dict[int | None, Copy] = {
            None: self._copy(issue.subject, issue.html, issue.text)
        }
        for variant in variants:
            self.copies[variant.id] = self._copy(variant.subject, variant.html, variant.text)
        # Every copy, variants included, is the same list and the same issue to the provider.
        self.list_headers = list_headers(settings, issue_number=issue.number, kind="issue")

    def _copy(self, subject: str, html: str, text: str) -> Copy:
        # Tracked links are signed once per copy here; only the short tag is per recipient.
        if self.tracking is not None:
            html, text = self.tracking.html(html), self.tracking.text(text)
        return Copy(subject, compile_body(html), compile_body(text))

    def copy(self, variant_id: int | None) -> Copy:
        if variant_id not in self.copies and variant_id is not None and self.fetch is not None:
            variant = self.fetch(variant_id)
            if variant is not None:  # two threads may both compile it: the same bytes
                self.copies[variant_id] = self._copy(variant.subject, variant.html, variant.text)
        return self.copies[variant_id]  # KeyError: a variant the sender never loaded

    def build(self, claim: Claim) -> list[OutgoingEmail]:
        return [self.for_recipient(r, batch_id=claim.batch_id) for r in claim.recipients]

    def for_recipient(self, recipient: Recipient, *, batch_id: int = 0) -> OutgoingEmail:
        sid, settings = recipient.subscriber_id, self.settings
        # Signing is the costly part: sign each link once, then escape it for the HTML part.
        plain = links.recipient_values(settings, sid, email_hash=recipient.email_hash, now=self.now)
        if self.tracking is not None:
            plain["click_tag"] = self.tracking.tag(
                subscriber_id=sid, delivery_id=recipient.delivery_id, batch_id=batch_id
            )
        markup, text = personal_values(plain, recipient.name)
        copy = self.copy(recipient.variant_id)
        html_parts, text_parts = copy.html.pieces(markup), copy.text.pieces(text)
        return OutgoingEmail(
            reference=recipient.reference(self.issue_id),
            to=recipient.email,
            from_email=settings.from_email,
            subject=copy.subject,
            html="".join(html_parts),
            text="".join(text_parts),
            headers={**one_click(plain["unsubscribe_url"]), **self.list_headers},
            tags={"issue": str(self.issue.number)},
            # The pieces let SMTP and the outbox encode the frozen text once per issue.
            html_parts=html_parts,
            text_parts=text_parts,
        )
