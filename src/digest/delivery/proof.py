"""Test copies ("proofs"): one [TEST] copy of an issue to one address, outside the ledger.

Two ways in, one way out: the next issue as the editor previews it, or the issue being sent
right now. Both carry the anonymous links (generic unsubscribe and preferences pages), never a
real reader's token, claim or freeze nothing, and raise TransportError when refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from digest import issues
from digest.config import Settings
from digest.delivery.list_headers import list_headers
from digest.errors import InvalidInput, TransportError
from digest.models import Issue
from digest.render import RenderedEmail, public_copy
from digest.transports import OutgoingEmail, SendResult, Transport

TEST_PREFIX = "[TEST] "


def normalise_address(address: str) -> str:
    """A syntactically valid address (no DNS lookups), or InvalidInput saying what is wrong."""
    try:
        return str(validate_email(address.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise InvalidInput("test address", [("to", str(exc))]) from None


def send_test_copy(
    session: Session, settings: Settings, *, to: str, transport: Transport, now: datetime
) -> tuple[issues.Preview, SendResult]:
    """A copy of the next issue, as the editor previews it at `now`."""
    address = normalise_address(to)
    preview = issues.preview_next_issue(session, settings, now=now)
    reference = f"test-i{preview.issue.number}-{uuid.uuid4().hex}"  # random: see base.py
    result = _send_copy(
        settings,
        preview.email,
        to=address,
        reference=reference,
        transport=transport,
        number=preview.issue.number,
    )
    return preview, result


def send_frozen_test_copy(
    settings: Settings, issue: Issue, *, to: str, transport: Transport
) -> SendResult:
    """A copy of an issue that is frozen (being sent, or sent)."""
    address = normalise_address(to)
    reference = f"test-i{issue.number}-{uuid.uuid4().hex}"
    email = issues.frozen_email(issue)
    return _send_copy(
        settings, email, to=address, reference=reference, transport=transport, number=issue.number
    )


def _send_copy(
    settings: Settings,
    email: RenderedEmail,
    *,
    to: str,
    reference: str,
    transport: Transport,
    number: int,
) -> SendResult:
    copy = public_copy(settings, email)
    outgoing = OutgoingEmail(
        reference=reference,
        to=to,
        from_email=settings.from_email,
        subject=TEST_PREFIX + copy.subject,
        html=copy.html,
        text=copy.text,
        headers=list_headers(settings, issue_number=number, kind="test"),
        tags={"kind": "test"},
    )
    [result] = transport.send_batch([outgoing], idempotency_key=reference)
    if not result.ok:
        raise TransportError(
            f"the transport refused the test copy: {result.error}", retryable=not result.permanent
        )
    return result
