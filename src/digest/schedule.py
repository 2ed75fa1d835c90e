"""APScheduler wiring: the weekly send, resuming paused or unfinished sends, purging signups,
retrying transactional mail (confirmations) that the transport refused at signup time, and the
desk's work: send requests from the browser, and the review reminder.

With DIGEST_REVIEW=required the weekly run sends only an approved issue; an issue approved
later, while the run is still within the grace window, is sent by the desk job within seconds.

The schedule is a day name and a time in DIGEST_TIMEZONE ("mon 08:00"); the trigger gets the
name, never a number (APScheduler 3 counts 0 as Monday, cron as Sunday). A scheduler that was
down at send time sends on start if it is within DIGEST_SCHEDULE_GRACE_HOURS; later, the run is
stale and only logged. The issue for a period is claimed in the database, so two schedulers
(or a scheduler and an operator) send one issue, each reader once.

The process that runs the scheduler builds one transport and its pacer and hands them to every
job (`digest scheduler`, in cli/scheduler.py, is that composition root). The schedule's pure
arithmetic (parse_schedule, last_run_time, next_run_time) lives in `issues.timing`, below this
edge, so the domain can say when the next issue goes out; the names stay importable from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest import clicks, delivery, editors, issues
from digest.config import Settings
from digest.db import session_scope, utcnow
from digest.delivery import Pacer
from digest.errors import NothingToSend
from digest.issues.timing import (  # the schedule's arithmetic lives with the issue it times
    DAYS,
    FULL_DAYS,
    WeeklyTime,
    last_run_time,
    next_run_time,
    parse_schedule,
)
from digest.models import Issue, IssueStatus
from digest.readers import mail_queue, signup, subscriptions
from digest.transports import Transport

__all__ = [
    "DAYS",
    "FULL_DAYS",
    "MAIL_RETRY_EVERY",
    "MAINTENANCE_EVERY",
    "REMINDER_EVERY",
    "WeeklyTime",
    "build_scheduler",
    "desk_run",
    "last_run_time",
    "maintenance_run",
    "make_trigger",
    "next_run_time",
    "parse_schedule",
    "period_sent",
    "retry_transactional_mail",
    "review_reminder_run",
    "run_forever",
    "run_once",
    "send_and_log",
    "weekly_run",
]

log = logging.getLogger("digest.schedule")
MAINTENANCE_EVERY = timedelta(hours=1)
# A confirmation the transport refused should not wait an hour: readers are at the form now.
MAIL_RETRY_EVERY = timedelta(minutes=1)
REMINDER_EVERY = timedelta(minutes=5)


def make_trigger(weekly: WeeklyTime, tz: ZoneInfo) -> CronTrigger:
    return CronTrigger(
        day_of_week=weekly.day, hour=weekly.at.hour, minute=weekly.at.minute, timezone=tz
    )


def weekly_run(
    engine: Engine, settings: Settings, *, transport: Transport, pacer: Pacer, now: datetime
) -> str:
    """The weekly job: send this period's issue unless the run is stale; says what it did."""
    weekly = parse_schedule(settings.send_schedule)
    scheduled = last_run_time(weekly, settings.tz, now=now)
    late = now - scheduled
    if late > timedelta(hours=settings.schedule_grace_hours):
        if period_sent(engine, settings, at=scheduled):
            return f"the issue of {scheduled:%Y-%m-%d} was sent; next run on schedule"
        message = (
            f"stale: the run of {scheduled:%Y-%m-%d %H:%M} UTC is {late} late (grace "
            f"{settings.schedule_grace_hours:g} h); not sending. Send by hand: digest issue send"
        )
        log.warning(message)
        return message
    try:
        with session_scope(engine) as session:
            # Checked in the transaction that freezes: an edit cannot slip in between.
            waiting = editors.waiting_for_review(session, settings, now=now, period_at=scheduled)
            # The period is the scheduled instant's (a late Sunday-night run must not take
            # Monday's week); `now` stays the compose cutoff.
            issue = (
                None
                if waiting
                else delivery.open_period_issue(session, settings, now=now, period_at=scheduled)
            )
    except NothingToSend as exc:
        log.info("nothing to send: %s", exc.message)
        return f"nothing to send: {exc.message}"
    if issue is None:
        log.info("not sending yet: %s", waiting)
        return f"not sending yet: {waiting}"
    if issue.status == IssueStatus.SENT:
        return f"issue #{issue.number} ({issue.period}) was already sent"
    return send_and_log(engine, settings, issue, transport=transport, pacer=pacer, now=now)


def period_sent(engine: Engine, settings: Settings, *, at: datetime) -> bool:
    period = issues.period_of(at, settings.tz)
    with session_scope(engine, read_only=True) as session:
        status = session.exec(select(Issue.status).where(col(Issue.period) == period)).first()
    return status == IssueStatus.SENT


def send_and_log(
    engine: Engine,
    settings: Settings,
    issue: Issue,
    *,
    transport: Transport,
    pacer: Pacer,
    now: datetime,
) -> str:
    assert issue.id is not None
    report = delivery.send_issue(
        engine, settings, issue.id, transport=transport, pacer=pacer, now=now
    )
    counts = " ".join(f"{k}={v}" for k, v in report.counts.items())
    outcome = f"issue #{issue.number} ({issue.period}): {report.issue.status}; {counts}"
    if report.tally.paused:
        outcome += f"; paused: {report.tally.paused}"
    log.info(outcome)
    return outcome


def maintenance_run(
    engine: Engine, settings: Settings, *, transport: Transport, pacer: Pacer, now: datetime
) -> list[str]:
    """Resume paused or unfinished sends; purge signups never confirmed; close click windows
    that are due (their keys are deleted, only counts remain)."""
    with session_scope(engine, read_only=True) as session:
        pending = delivery.unfinished_issues(session)
    outcomes = [
        send_and_log(engine, settings, issue, transport=transport, pacer=pacer, now=now)
        for issue in pending
    ]
    with session_scope(engine) as session:
        purged = subscriptions.purge_unconfirmed(
            session, now=now, older_than=timedelta(days=settings.purge_unconfirmed_days)
        )
        closed = clicks.close_due_windows(session, now=now)
    if purged:
        log.info("purged %d signup(s) never confirmed", purged)
    if closed:
        log.info("closed the click window of issue id(s) %s", closed)
    return [
        *outcomes,
        f"purged {purged} unconfirmed signup(s)",
        f"closed {len(closed)} click window(s)",
    ]


def retry_transactional_mail(
    engine: Engine, settings: Settings, *, transport: Transport, now: datetime
) -> str:
    """Act on reader requests a web process stored but did not get to (it crashed), then send
    confirmations and other transactional mail that is due (first try failed)."""
    signup.process_requests(engine, settings, transport=transport, now=now)
    sent = mail_queue.send_pending_messages(engine, settings, transport=transport, now=now)
    if sent:
        log.info("sent %d pending transactional message(s)", sent)
    return f"sent {sent} pending transactional message(s)"


def desk_run(
    engine: Engine,
    settings: Settings,
    *,
    transport: Transport,
    pacer: Pacer,
    now: datetime,
    owner: str = "scheduler",
) -> list[str]:
    """Act on the desk's send requests; with review required, send an issue approved after
    its scheduled run while the run is still within the grace window."""
    outcomes = editors.process_requests(
        engine, settings, transport=transport, pacer=pacer, owner=owner, now=now
    )
    if approved_run_due(engine, settings, now=now):
        outcomes.append(weekly_run(engine, settings, transport=transport, pacer=pacer, now=now))
    for outcome in outcomes:
        log.info("desk: %s", outcome)
    return outcomes


def approved_run_due(engine: Engine, settings: Settings, *, now: datetime) -> bool:
    with session_scope(engine, read_only=True) as session:
        return editors.approved_awaiting_run(session, settings, now=now)


def review_reminder_run(
    engine: Engine, settings: Settings, *, transport: Transport, now: datetime
) -> str:
    outcome = editors.send_review_reminder(engine, settings, transport=transport, now=now)
    if outcome:
        log.info(outcome)
    return outcome or "no review reminder due"


def run_once(
    engine: Engine, settings: Settings, *, transport: Transport, pacer: Pacer, now: datetime
) -> list[str]:
    """What a scheduler does on start: catch up on a due weekly run, then maintenance."""
    return [
        weekly_run(engine, settings, transport=transport, pacer=pacer, now=now),
        *maintenance_run(engine, settings, transport=transport, pacer=pacer, now=now),
        retry_transactional_mail(engine, settings, transport=transport, now=now),
        *desk_run(engine, settings, transport=transport, pacer=pacer, now=now),
    ]


def build_scheduler(
    engine: Engine,
    settings: Settings,
    *,
    transport: Transport,
    pacer: Pacer,
    clock: Callable[[], datetime] = utcnow,
) -> BlockingScheduler:
    weekly = parse_schedule(settings.send_schedule)
    # One worker: jobs run one after another. On the default pool, hourly maintenance would
    # resume a SENDING issue beside a long weekly send of it, each paced at DIGEST_RATE_LIMIT,
    # doubling the rate at the provider. A job due while another runs waits its turn;
    # max_instances=1 keeps at most one of each waiting, so missed runs coalesce.
    scheduler = BlockingScheduler(
        timezone=settings.tz, executors={"default": ThreadPoolExecutor(max_workers=1)}
    )
    grace = int(settings.schedule_grace_hours * 3600)
    scheduler.add_job(
        lambda: weekly_run(engine, settings, transport=transport, pacer=pacer, now=clock()),
        make_trigger(weekly, settings.tz),
        id="weekly-send",
        misfire_grace_time=grace,
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        lambda: maintenance_run(engine, settings, transport=transport, pacer=pacer, now=clock()),
        IntervalTrigger(seconds=MAINTENANCE_EVERY.total_seconds(), timezone=settings.tz),
        id="maintenance",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=grace,
    )
    scheduler.add_job(
        lambda: retry_transactional_mail(engine, settings, transport=transport, now=clock()),
        IntervalTrigger(seconds=MAIL_RETRY_EVERY.total_seconds(), timezone=settings.tz),
        id="transactional-mail",
        coalesce=True,
        max_instances=1,
        # Queued behind a long weekly send, it still runs once afterwards instead of being
        # dropped for starting late.
        misfire_grace_time=None,
    )
    scheduler.add_job(
        lambda: desk_run(engine, settings, transport=transport, pacer=pacer, now=clock()),
        IntervalTrigger(seconds=settings.request_poll_seconds, timezone=settings.tz),
        id="desk-requests",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    scheduler.add_job(
        lambda: review_reminder_run(engine, settings, transport=transport, now=clock()),
        IntervalTrigger(seconds=REMINDER_EVERY.total_seconds(), timezone=settings.tz),
        id="review-reminder",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler


def run_forever(engine: Engine, settings: Settings, *, transport: Transport, pacer: Pacer) -> None:
    scheduler = build_scheduler(engine, settings, transport=transport, pacer=pacer)
    for outcome in run_once(engine, settings, transport=transport, pacer=pacer, now=utcnow()):
        log.info("on start: %s", outcome)
    job = scheduler.get_job("weekly-send")
    log.info(
        "weekly send: %s %s; next run %s",
        settings.send_schedule,
        settings.timezone,
        job.trigger.get_next_fire_time(None, datetime.now(settings.tz)) if job else "-",
    )
    scheduler.start()
