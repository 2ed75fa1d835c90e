"""The demo's last step: send the week's issue to a few sample readers through the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from digest import delivery, subscriptions
from digest.config import Settings
from digest.db import session_scope
from digest.errors import NothingToSend
from digest.models import ConsentRoute

SAMPLE_READERS = (
    ("ada@example.com", "Ada"),
    ("grace@example.com", "Grace"),
    ("linus@example.com", None),
)


@dataclass(frozen=True)
class SampleSend:
    number: int | None
    counts: dict[str, int]
    note: str  # one line for the operator


def add_sample_readers(settings: Settings, engine: Engine, *, now: datetime) -> int:
    """The sample readers, confirmed (the operator vouches for them); returns how many were new."""
    added = 0
    with session_scope(engine) as session:
        for address, name in SAMPLE_READERS:
            if subscriptions.find_by_email(session, address) is None:
                subscriptions.add_subscriber(
                    session, address, name=name, confirmed=True, route=ConsentRoute.CLI, now=now
                )
                added += 1
    return added


def send_sample_issue(settings: Settings, engine: Engine, *, now: datetime) -> SampleSend:
    """Send (or resume) this week's issue with the configured transport; say what happened."""
    add_sample_readers(settings, engine, now=now)
    try:
        with session_scope(engine) as session:
            issue = delivery.prepare_issue(session, settings, now=now)
    except NothingToSend as exc:
        return SampleSend(None, {}, f"Nothing to send: {exc.message}")
    assert issue.id is not None
    report = delivery.send_with_configured_transport(engine, settings, issue.id, now=now)
    return SampleSend(issue.number, report.counts, describe(report))


def describe(report: delivery.SendReport) -> str:
    issue, tally = report.issue, report.tally
    if tally.sent + tally.failed + tally.skipped:
        return (
            f"Issue #{issue.number} ({issue.period}) {issue.status}: this run sent "
            f"{tally.sent}, failed {tally.failed}, skipped {tally.skipped}"
        )
    return f"Issue #{issue.number} ({issue.period}) was already sent; nobody is mailed twice"
