"""The send's circuit breaker: protect the sending domain from a list that has gone bad.

After each batch is recorded, the issue's running totals (`send_health`, kept incrementally:
one row read per batch, never a count over the ledger) are checked: hard bounces over
DIGEST_BREAKER_BOUNCE_RATE or complaints over DIGEST_BREAKER_COMPLAINT_RATE of what was
accepted so far, once DIGEST_BREAKER_MIN_SAMPLE were accepted, pause the issue with that reason,
in the same transaction that recorded the batch: the pause lands within one batch. The editors
(DIGEST_EDITOR_EMAILS) are emailed by the worker that paused it.

Such a pause is sticky: neither a rerun of the send nor the scheduler's hourly resume lifts
it, only `release_breaker` (`digest issue resume N`, or the desk's button), which also starts
the totals afresh so the send is judged on what it does next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from digest.config import Settings
from digest.models import Issue, IssueStatus, SendHealth
from digest.transports import OutgoingEmail, SendResult, Transport

PREFIX = "circuit breaker"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Breaker:
    bounce_rate: float
    complaint_rate: float
    min_sample: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Breaker:
        return cls(
            settings.breaker_bounce_rate,
            settings.breaker_complaint_rate,
            settings.breaker_min_sample,
        )

    def after_batch(
        self, session: Session, issue_id: int, answers: list[SendResult], *, now: datetime
    ) -> str | None:
        """Count the batch's answers; pause the issue if a limit is passed. Returns the reason
        if this call paused it (so exactly one worker tells the editors)."""
        accepted = sum(1 for answer in answers if answer.ok)
        refused = sum(1 for answer in answers if not answer.ok and answer.permanent)
        totals = note(session, issue_id, accepted=accepted, hard_bounces=refused)
        reason = self.verdict(totals or session.get(SendHealth, issue_id))
        if reason is None:
            return None
        return reason if pause(session, issue_id, reason=reason, now=now) else None

    def verdict(self, health: SendHealth | None) -> str | None:
        if health is None or health.accepted < self.min_sample:
            return None
        bounces = health.hard_bounces / health.accepted
        complaints = health.complaints / health.accepted
        if bounces > self.bounce_rate:
            return _reason("hard bounces", health.hard_bounces, bounces, self.bounce_rate, health)
        if complaints > self.complaint_rate:
            return _reason("complaints", health.complaints, complaints, self.complaint_rate, health)
        return None


def _reason(what: str, count: int, rate: float, limit: float, health: SendHealth) -> str:
    return (
        f"{PREFIX}: {what} {count} = {rate:.2%} of {health.accepted} delivered "
        f"(limit {limit:.2%}); resume only with `digest issue resume`"
    )


def note(
    session: Session,
    issue_id: int,
    *,
    accepted: int = 0,
    hard_bounces: int = 0,
    complaints: int = 0,
) -> SendHealth | None:
    """Add to the issue's running totals (batches here; webhook bounces and complaints) and
    return them as they are now (None when there was nothing to add)."""
    if not (accepted or hard_bounces or complaints):
        return None
    statement = _NOTE[session.get_bind().dialect.name == "postgresql"]
    values = {
        "issue_id": issue_id,
        "accepted": accepted,
        "hard_bounces": hard_bounces,
        "complaints": complaints,
    }
    row = session.execute(statement, values).one()
    return SendHealth(issue_id=issue_id, accepted=row[0], hard_bounces=row[1], complaints=row[2])


def _note_statement(build: Any) -> Any:
    """One atomic upsert: racing workers add to the same row, never insert it twice; RETURNING
    gives the totals back in the same round trip. Built once (it runs after every batch)."""
    table: Any = SendHealth.__table__  # type: ignore[attr-defined]
    statement = build(table).values(
        issue_id=bindparam("issue_id"),
        accepted=bindparam("accepted"),
        hard_bounces=bindparam("hard_bounces"),
        complaints=bindparam("complaints"),
    )
    return statement.on_conflict_do_update(
        index_elements=["issue_id"],
        set_={
            "accepted": table.c.accepted + statement.excluded.accepted,
            "hard_bounces": table.c.hard_bounces + statement.excluded.hard_bounces,
            "complaints": table.c.complaints + statement.excluded.complaints,
        },
    ).returning(table.c.accepted, table.c.hard_bounces, table.c.complaints)


_NOTE = {False: _note_statement(sqlite_insert), True: _note_statement(postgresql_insert)}


def pause(session: Session, issue_id: int, *, reason: str, now: datetime) -> bool:
    result = session.execute(
        update(Issue)
        .where(col(Issue.id) == issue_id, col(Issue.status) == IssueStatus.SENDING)
        .values(
            status=IssueStatus.PAUSED,
            pause_reason=f"{reason} (paused at {now:%Y-%m-%d %H:%M} UTC)"[:500],
        )
    )
    return bool(getattr(result, "rowcount", 0))


def tripped(reason: str | None) -> bool:
    """True for a pause only an explicit resume may lift."""
    return bool(reason and reason.startswith(PREFIX))


def release_breaker(session: Session, issue_id: int) -> bool:
    """The explicit resume: back to sending, totals started afresh. False if the issue was
    not paused."""
    result = session.execute(
        update(Issue)
        .where(col(Issue.id) == issue_id, col(Issue.status) == IssueStatus.PAUSED)
        .values(status=IssueStatus.SENDING, pause_reason=None)
    )
    if not getattr(result, "rowcount", 0):
        return False
    session.execute(
        update(SendHealth)
        .where(col(SendHealth.issue_id) == issue_id)
        .values(accepted=0, hard_bounces=0, complaints=0)
    )
    return True


def alert_editors(
    transport: Transport, settings: Settings, *, issue_number: int, reason: str, now: datetime
) -> None:
    """Email DIGEST_EDITOR_EMAILS; a failure is logged, never raised (the pause stands)."""
    if not settings.editor_addresses:
        log.warning("issue #%s paused (%s); DIGEST_EDITOR_EMAILS is empty", issue_number, reason)
        return
    text = (
        f"The send of issue #{issue_number} paused itself at {now:%Y-%m-%d %H:%M} UTC.\n\n"
        f"{reason}\n\nLook at the bounces and complaints before resuming:\n"
        f"  digest issue resume {issue_number}\n"
    )
    emails = [
        OutgoingEmail(
            reference=f"breaker-{issue_number}-{n}",
            to=address,
            from_email=settings.from_email,
            subject=f"Issue #{issue_number} paused: {reason.split(';')[0]}",
            html=f"<pre>{escape(text)}</pre>",
            text=text,
        )
        for n, address in enumerate(settings.editor_addresses)
    ]
    try:
        answers = transport.send_batch(
            emails, idempotency_key=f"breaker-{issue_number}-{now:%Y%m%d%H%M%S}"
        )
    except Exception:  # the pause is what protects the domain; the alert is best effort
        log.exception("issue #%s: could not email the editors about the pause", issue_number)
        return
    for answer in answers:
        if not answer.ok:
            log.error(
                "issue #%s: alert %s refused: %s", issue_number, answer.reference, answer.error
            )
