"""`digest demo`: the main job on the embedded default, end to end, with no configuration.

It creates the store, loads the sample comparisons, writes the next issue's preview and sends
the week's issue to three sample readers through the configured transport (the outbox by
default). Running it again mails nobody twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from digest import catalog, delivery, issues, migrate
from digest.config import Settings
from digest.db import session_scope
from digest.errors import NothingToSend
from digest.models import ConsentRoute
from digest.paths import SAMPLES
from digest.readers import subscriptions
from digest.transports import check_transport, make_transport

PREVIEW_PATH = Path("preview") / "next-issue.html"
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


@dataclass
class DemoResult:
    imported: catalog.ImportReport
    due: issues.NextIssue  # before the send: what goes out next (this run sends it if it can)
    after: issues.NextIssue  # after the send: what goes out next, and when
    preview_path: Path | None = None  # the next issue's HTML, as readers will see it
    sent: SampleSend | None = None  # the week's issue sent to the sample readers


def sample_documents(directory: Path = SAMPLES) -> list[tuple[str, list[catalog.ComparisonIn]]]:
    files = sorted(directory.glob("*.json"))
    return [(str(path), catalog.parse_document(str(path), path.read_bytes())) for path in files]


def run_demo(settings: Settings, engine: Engine, *, now: datetime) -> DemoResult:
    """Create the store, load the sample comparisons, send what is due, say what comes next."""
    migrate.upgrade(settings.database_url)
    with session_scope(engine) as session:
        report = catalog.import_comparisons(session, sample_documents(), now=now)
    with session_scope(engine, read_only=True) as session:
        due = issues.next_issue(session, settings, now=now)
        written = issues.write_preview(session, settings, now=now, target=PREVIEW_PATH)
    preview_path = PREVIEW_PATH.resolve() if written else None
    sent = send_sample_issue(settings, engine, now=now)
    with session_scope(engine, read_only=True) as session:
        after = issues.next_issue(session, settings, now=now)
    return DemoResult(report, due, after, preview_path=preview_path, sent=sent)


def add_sample_readers(engine: Engine, *, now: datetime) -> int:
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
    add_sample_readers(engine, now=now)
    pacer = delivery.Pacer(settings.rate_limit)
    # Built and checked before the issue is frozen: a broken transport changes nothing.
    transport = make_transport(settings, observer=pacer.observe)
    try:
        check_transport(transport)
        try:
            with session_scope(engine) as session:
                issue = delivery.prepare_issue(session, settings, now=now)
        except NothingToSend as exc:
            return SampleSend(None, {}, f"Nothing to send: {exc.message}")
        assert issue.id is not None
        report = delivery.send_issue(
            engine, settings, issue.id, transport=transport, pacer=pacer, now=now
        )
    finally:
        transport.close()
    return SampleSend(issue.number, report.counts, describe(report))


def describe(report: delivery.SendReport) -> str:
    issue, tally = report.issue, report.tally
    if tally.sent + tally.failed + tally.skipped:
        return (
            f"Issue #{issue.number} ({issue.period}) {issue.status}: this run sent "
            f"{tally.sent}, failed {tally.failed}, skipped {tally.skipped}"
        )
    return f"Issue #{issue.number} ({issue.period}) was already sent; nobody is mailed twice"
