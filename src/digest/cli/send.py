"""`digest issue send`: translate argv to delivery calls, show progress, exit with a status."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli import send_processes
from digest.cli.common import (
    NowOption,
    check_before_sending,
    console,
    err_console,
    load_settings,
    open_engine,
    parse_time,
    shown,
)
from digest.errors import NothingToSend, StoreUnavailable, TransportError

# The domain packages are imported by the functions that use them, so that every other
# `digest` command (and --help) starts without them (common.py).
if TYPE_CHECKING:
    from rich.progress import TaskID
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from digest import delivery, issues
    from digest.config import Settings
    from digest.delivery import Pacer, Tally
    from digest.models import Issue
    from digest.transports import SendResult, Transport

EXIT_FAILED = 1  # some deliveries failed for good
EXIT_UNFINISHED = 3  # paused (quota), unfinished or the database away: run it again later
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


def send_command(
    now: NowOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Render and count; send and store nothing.")
    ] = False,
    test_to: Annotated[
        str | None,
        typer.Option("--test-to", metavar="EMAIL", help="Send one test copy to this address only."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=32,
            metavar="N",
            help="Parallel senders [default: DIGEST_SEND_WORKERS].",
        ),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            min=1,
            max=32,
            metavar="N",
            help=(
                "Sender processes on this issue, each with --workers threads, to use every core "
                "(DIGEST_RATE_LIMIT is shared among them). On SQLite they share its single "
                "writer, so more than 1 helps little there."
            ),
        ),
    ] = 1,
) -> None:
    """Send the week's issue to every confirmed reader; run it again to resume.

    Exit status: 0 all sent, 1 some deliveries failed, 3 paused or unfinished (run again later).
    """
    from digest import delivery, issues
    from digest.db import session_scope
    from digest.delivery import Pacer
    from digest.transports import make_transport

    settings = load_settings()
    engine = open_engine(settings)
    moment = parse_time(now)
    if test_to is not None:
        return send_test(settings, engine, delivery.normalise_address(test_to), now=moment)
    if dry_run:
        make_transport(settings).close()  # a missing or malformed transport setting shows now
        return show_dry_run(settings, engine, now=moment)
    with session_scope(engine, read_only=True) as session:
        plan = issues.next_issue(session, settings, now=moment)
    if not plan.sendable_now:
        return say_why_not_now(settings, engine, plan, now=moment)
    # The transport is built and checked before anything changes: a missing key or a refused
    # login must not leave the issue frozen into `sending`.
    pacer = Pacer(settings.rate_limit)
    transport = make_transport(settings, observer=pacer.observe)
    try:
        check_before_sending(transport)
        send_now(
            settings,
            engine,
            transport,
            pacer,
            plan,
            workers=workers,
            processes=processes,
            now=moment,
        )
    finally:
        transport.close()


def send_now(
    settings: Settings,
    engine: Engine,
    transport: Transport,
    pacer: Pacer,
    plan: issues.NextIssue,
    *,
    workers: int | None,
    now: datetime,
    processes: int = 1,
) -> None:
    from digest import delivery, issues
    from digest.db import in_store
    from digest.models import IssueStatus

    try:
        issue = in_store(
            engine,
            lambda session: delivery.prepare_issue(session, settings, now=now),
            patience=settings.db_retry_seconds,
            what="digest issue send",
        )
    except NothingToSend as exc:  # the comparisons went into an issue sent meanwhile
        console.print(f"Nothing to send: {shown(exc.message)}")
        return
    except StoreUnavailable as exc:
        err_console.print(f"[yellow]Unfinished:[/yellow] {shown(exc.message)}")
        raise typer.Exit(EXIT_UNFINISHED) from None
    if issue.status == IssueStatus.SENT:  # another sender finished it meanwhile
        console.print(f"Issue #{issue.number} ({shown(issue.period)}) was already sent.")
        return show_counts(engine, issue)
    if issue.paused_by:  # an editor's pause holds until an editor resumes (editors.requests)
        err_console.print(
            f"[yellow]Paused:[/yellow] issue #{issue.number} was paused by "
            f"{shown(issue.paused_by)}. Resume it with: digest issue resume {issue.number}"
        )
        raise typer.Exit(EXIT_UNFINISHED)
    if issue.period != issues.period_of(now, settings.tz):
        console.print(
            f"Resuming unfinished issue #{issue.number} ({shown(issue.period)}) first; "
            "run the command again afterwards for this week's issue."
        )
    elif not plan.resuming and plan.goes_out_at > now:
        console.print(f"Sending now, ahead of its schedule: {shown(plan.describe())}")
    workers = workers or settings.send_workers
    if processes > 1:
        return run_processes(settings, engine, issue, processes=processes, workers=workers, now=now)
    run_send(settings, engine, issue, transport, pacer, workers=workers, now=now)


def run_processes(
    settings: Settings, engine: Engine, issue: Issue, *, processes: int, workers: int, now: datetime
) -> None:
    """`--processes N`: the children send; the outcome is read from the ledger afterwards."""
    from digest import delivery
    from digest.db import in_store
    from digest.delivery import Tally
    from digest.models import Issue, IssueStatus

    assert issue.id is not None
    issue_id = issue.id
    clock = delivery.clock_from(now)
    console.print(
        f"Sending issue #{issue.number} ({shown(issue.period)}) with {processes} processes of "
        f"{workers} workers: {shown(issue.subject)}"
    )
    codes = send_processes.run_children(issue_id, processes=processes, workers=workers, now=now)
    if send_processes.EXIT_INTERRUPTED in codes:
        err_console.print(
            f"Interrupted. Every process recorded the batches it had handed to the transport; "
            f"nothing is lost and nobody is mailed twice. Run `digest issue send` again to "
            f"resume issue #{issue.number}."
        )
        raise typer.Exit(EXIT_INTERRUPTED)

    def outcome(session: Session) -> delivery.SendReport:
        delivery.finish_if_done(session, issue_id, now=clock())
        latest = session.get(Issue, issue_id) or issue
        paused = latest.pause_reason if latest.status == IssueStatus.PAUSED else None
        counts = delivery.issue_counts(session, issue_id)
        return delivery.SendReport(issue=latest, counts=counts, tally=Tally(paused=paused))

    try:
        report = in_store(engine, outcome, patience=settings.db_retry_seconds)
    except StoreUnavailable as exc:
        err_console.print(f"[yellow]Unfinished:[/yellow] {shown(exc.message)}")
        raise typer.Exit(EXIT_UNFINISHED) from None
    finish_with_status(report, issue)


def run_send(
    settings: Settings,
    engine: Engine,
    issue: Issue,
    transport: Transport,
    pacer: Pacer,
    *,
    workers: int,
    now: datetime,
) -> None:
    from digest import delivery
    from digest.db import session_scope

    assert issue.id is not None
    with session_scope(engine, read_only=True) as session:
        before = delivery.issue_counts(session, issue.id)
    console.print(f"Sending issue #{issue.number} ({shown(issue.period)}): {shown(issue.subject)}")
    try:
        with SendProgress(before) as progress:
            report = delivery.send_issue(
                engine,
                settings,
                issue.id,
                transport=transport,
                pacer=pacer,
                now=now,
                workers=workers,
                on_progress=progress.update,
            )
    except KeyboardInterrupt:
        err_console.print(
            f"Interrupted. Batches already handed to the transport were recorded; nothing is "
            f"lost and nobody is mailed twice. Run `digest issue send` again to resume "
            f"issue #{issue.number}."
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except StoreUnavailable as exc:
        err_console.print(f"[yellow]Unfinished:[/yellow] {shown(exc.message)}")
        raise typer.Exit(EXIT_UNFINISHED) from None
    finish_with_status(report, issue)


def finish_with_status(report: delivery.SendReport, issue: Issue) -> None:
    """Print the ledger and exit 0 (sent), 1 (failures) or 3 (paused or unfinished)."""
    from digest.delivery import breaker
    from digest.models import DeliveryStatus

    print_counts(report.counts)
    if breaker.tripped(report.issue.pause_reason):  # a rerun does not lift this one
        err_console.print(
            f"[yellow]Paused:[/yellow] {shown(report.issue.pause_reason or '')}. Look at the "
            f"bounces and complaints, then: digest issue resume {issue.number}"
        )
        raise typer.Exit(EXIT_UNFINISHED)
    if report.tally.paused:
        err_console.print(
            f"[yellow]Paused:[/yellow] {shown(report.tally.paused)}. Run again later to resume."
        )
        raise typer.Exit(EXIT_UNFINISHED)
    if report.counts[DeliveryStatus.FAILED]:
        err_console.print(
            "[red]Some deliveries failed[/red]; see: digest issue show " + str(issue.number)
        )
        raise typer.Exit(EXIT_FAILED)
    if not report.finished:
        raise typer.Exit(EXIT_UNFINISHED)
    console.print(f"Issue #{issue.number} is sent.")


class SendProgress:
    """A rich bar over the ledger's total: sent, failed, skipped, emails/s and ETA."""

    def __init__(self, before: dict[str, int]) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from digest.models import DeliveryStatus

        self.done = (
            before[DeliveryStatus.SENT]
            + before[DeliveryStatus.FAILED]
            + before[DeliveryStatus.SKIPPED]
        )
        self.before = before
        self.started = time.monotonic()
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn(
                "sent {task.fields[sent]} · failed {task.fields[failed]}"
                " · skipped {task.fields[skipped]}"
            ),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> SendProgress:
        from digest.models import DeliveryStatus

        self.bar.start()
        self.task = self.bar.add_task(
            "sending",
            total=sum(self.before.values()),
            completed=self.done,
            sent=self.before[DeliveryStatus.SENT],
            failed=self.before[DeliveryStatus.FAILED],
            skipped=self.before[DeliveryStatus.SKIPPED],
            rate=0.0,
        )
        return self

    def __exit__(self, *_exc: object) -> None:
        self.bar.stop()

    def update(self, tally: Tally) -> None:
        from digest.models import DeliveryStatus

        assert self.task is not None
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.bar.update(
            self.task,
            completed=self.done + tally.sent + tally.failed + tally.skipped,
            sent=self.before[DeliveryStatus.SENT] + tally.sent,
            failed=self.before[DeliveryStatus.FAILED] + tally.failed,
            skipped=self.before[DeliveryStatus.SKIPPED] + tally.skipped,
            rate=(tally.sent + tally.failed) / elapsed,
        )


def say_why_not_now(
    settings: Settings, engine: Engine, plan: issues.NextIssue, *, now: datetime
) -> None:
    """Nothing goes out now: this week's issue went out, or nothing new was published."""
    from digest import delivery, issues
    from digest.db import session_scope

    if plan.sent_this_week is not None:
        week = issues.period_of(now, settings.tz)
        console.print(f"Issue #{plan.sent_this_week} ({shown(week)}) was already sent this week.")
        with session_scope(engine, read_only=True) as session:
            sent = delivery.issue_by_number(session, plan.sent_this_week)
        show_counts(engine, sent)
    else:
        console.print("Nothing to send now: no comparisons were published since the last issue.")
    console.print(f"Next: {shown(plan.describe())}")


def print_counts(counts: dict[str, int]) -> None:
    console.print(" · ".join(f"{shown(name)} {n}" for name, n in counts.items()))


def show_counts(engine: Engine, issue: Issue) -> None:
    from digest import delivery
    from digest.db import session_scope

    assert issue.id is not None
    with session_scope(engine, read_only=True) as session:
        print_counts(delivery.issue_counts(session, issue.id))


def show_dry_run(settings: Settings, engine: Engine, *, now: datetime) -> None:
    """What a send would do now; the read-only transaction guarantees nothing is written."""
    from digest import delivery, issues
    from digest.db import session_scope

    with session_scope(engine, read_only=True) as session:
        plan = issues.next_issue(session, settings, now=now)
        if not plan.sendable_now:
            return say_why_not_now(settings, engine, plan, now=now)
        pending = delivery.unfinished_issues(session)
        if pending:
            issue = pending[0]
            assert issue.id is not None
            counts = delivery.issue_counts(session, issue.id)
            period, subject = shown(issue.period), shown(issue.subject)
            console.print(f"Would resume issue #{issue.number} ({period}): {subject}")
            console.print(f"Next: {shown(plan.describe())}")
            return print_counts(counts)
        preview = issues.preview_next_issue(session, settings, now=now)
        readers = delivery.eligible_count(session)
    batches = -(-readers // settings.batch_size)
    week, size = issues.period_of(now, settings.tz), len(preview.email.html.encode()) // 1024
    subject = shown(preview.email.subject)
    console.print(f"Would send issue #{preview.issue.number} ({shown(week)}) now: {subject}")
    console.print(f"On schedule: {shown(plan.describe())}")
    console.print(
        f"{readers} confirmed reader(s) in {batches} batch(es) of up to {settings.batch_size}; "
        f"HTML {size} KiB. Dry run: nothing sent or stored."
    )


def send_test(settings: Settings, engine: Engine, address: str, *, now: datetime) -> None:
    """A [TEST] copy of the issue being sent, or else of the next one (the editor's preview)."""
    from digest.transports import make_transport

    transport = make_transport(settings)
    try:
        number, result = _send_proof(settings, engine, address, transport=transport, now=now)
    except TransportError as exc:
        err_console.print(f"[red]Test copy refused:[/red] {shown(exc.message)}")
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        transport.close()
    console.print(
        f"Test copy of issue #{number} sent to {shown(address)} ({shown(result.provider_id)})."
    )


def _send_proof(
    settings: Settings, engine: Engine, address: str, *, transport: Transport, now: datetime
) -> tuple[int, SendResult]:
    from digest import delivery
    from digest.db import session_scope

    with session_scope(engine, read_only=True) as session:
        pending = delivery.unfinished_issues(session)
        if pending:
            proof = delivery.send_frozen_test_copy(
                settings, pending[0], to=address, transport=transport
            )
            return pending[0].number, proof
        preview, proof = delivery.send_test_copy(
            session, settings, to=address, transport=transport, now=now
        )
        return preview.issue.number, proof
