"""The next issue before it is frozen: the editor preview, `digest issue preview`, test copies.

All of them call the same `render_issue` that freezing calls, with the same inputs, so the
preview is the email (tests prove preview == sent, but for the recipient's own links).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from digest import issues, links
from digest.config import Settings
from digest.errors import InvalidInput, NothingToSend, TransportError
from digest.issues import Composition
from digest.models import Issue
from digest.personalise import strip_markers
from digest.render import RenderedEmail
from digest.render_issue import render_fitted
from digest.render_lint import LintCheck, lint_email
from digest.transports import OutgoingEmail, SendResult, make_transport

TEST_PREFIX = "[TEST] "


@dataclass(frozen=True)
class Preview:
    issue: Issue  # unsaved: the number and overrides the next issue will have
    composition: Composition
    email: RenderedEmail  # frozen form: personal markers still in place
    checks: list[LintCheck]


def preview_next_issue(session: Session, settings: Settings, *, now: datetime) -> Preview:
    """Render the next issue as freezing at `now` would; raises NothingToSend when empty."""
    issue = issues.next_issue_row(session, settings, now=now)
    email, composition = render_fitted(
        settings, issue, issues.compose_issue(session, settings, now=now), now=now
    )
    return Preview(issue, composition, email, lint_email(email))


def public_copy(settings: Settings, email: RenderedEmail) -> RenderedEmail:
    """A copy nobody owns (archive, preview, test send): personal links go to generic pages."""
    return RenderedEmail(
        subject=email.subject,
        preheader=email.preheader,
        html=strip_markers(email.html, _escaped(links.anonymous_values(settings))),
        text=strip_markers(email.text, links.anonymous_values(settings)),
    )


def _escaped(values: dict[str, str]) -> dict[str, str]:
    return {name: escape(value) for name, value in values.items()}


def normalise_address(address: str) -> str:
    """A syntactically valid address (no DNS lookups), or InvalidInput saying what is wrong."""
    try:
        return str(validate_email(address.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise InvalidInput("test address", [("to", str(exc))]) from None


def send_test_copy(
    session: Session, settings: Settings, *, to: str, now: datetime
) -> tuple[Preview, SendResult]:
    """One copy of the next issue, subject prefixed [TEST], through the configured transport."""
    address = normalise_address(to)
    preview = preview_next_issue(session, settings, now=now)
    copy = public_copy(settings, preview.email)
    stamp = hashlib.sha256(f"{address}|{now.isoformat()}".encode()).hexdigest()[:12]
    email = OutgoingEmail(
        reference=f"test-i{preview.issue.number}-{stamp}",
        to=address,
        from_email=settings.from_email,
        subject=TEST_PREFIX + copy.subject,
        html=copy.html,
        text=copy.text,
        tags={"kind": "test"},
    )
    transport = make_transport(settings)
    try:
        [result] = transport.send_batch([email], idempotency_key=email.reference)
    finally:
        transport.close()
    if not result.ok:
        raise TransportError(
            f"the transport refused the test copy: {result.error}", retryable=not result.permanent
        )
    return preview, result


def write_preview(
    session: Session, settings: Settings, *, now: datetime, target: Path
) -> Preview | None:
    """Write the next issue's web copy to `target`; None (and no file) when there is nothing new."""
    try:
        preview = preview_next_issue(session, settings, now=now)
    except NothingToSend:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(public_copy(settings, preview.email).html, encoding="utf-8")
    return preview
