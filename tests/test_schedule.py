"""The scheduler: day-name schedules across DST, catch-up within the grace, stale runs, one
issue from two scheduler processes, resumes and purges."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import catalog, schedule
from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.demo import sample_documents
from digest.errors import ConfigError
from digest.models import (
    ConsentRoute,
    Issue,
    IssueStatus,
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
    metadata,
)
from digest.readers import mail_queue, subscriptions
from digest.readers.subscriptions import email_hash
from digest.transports import make_transport
from tests.support.cli import DIGEST, digest_env
from tests.support.issue_data import comparison_doc, import_docs, week_of
from tests.support.ledger import add_readers
from tests.support.resend_server import FakeResend
from tests.support.settings import make_test_settings
from tests.support.wiring import wired

ROOT = Path(__file__).resolve().parents[1]
LONDON = ZoneInfo("Europe/London")
MONDAY_8 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # a Monday; London is on UTC in November


@pytest.mark.parametrize(
    ("text", "day", "hour", "minute"),
    [("mon 08:00", "mon", 8, 0), ("Monday 8:05", "mon", 8, 5), ("sun 23:59", "sun", 23, 59)],
)
def test_schedules_are_day_names_and_times(text: str, day: str, hour: int, minute: int) -> None:
    weekly = schedule.parse_schedule(text)
    assert (weekly.day, weekly.at.hour, weekly.at.minute) == (day, hour, minute)


@pytest.mark.parametrize("text", ["", "0 08:00", "mon", "mon 24:00", "monk 08:00", "* * * * *"])
def test_bad_schedules_say_what_to_write(text: str) -> None:
    with pytest.raises(ConfigError, match="mon 08:00"):
        schedule.parse_schedule(text)


def test_the_trigger_fires_on_the_named_day_at_local_time_across_dst() -> None:
    trigger = schedule.make_trigger(schedule.parse_schedule("mon 08:00"), LONDON)
    before = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # BST starts Sunday 29 March 2026
    first = trigger.get_next_fire_time(None, before)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    third = trigger.get_next_fire_time(second, second + timedelta(seconds=1))
    assert [f.astimezone(LONDON).strftime("%a %H:%M") for f in (first, second, third)] == [
        "Mon 08:00",
        "Mon 08:00",
        "Mon 08:00",
    ]
    assert [f.astimezone(UTC).hour for f in (first, second, third)] == [8, 7, 7]


def test_sunday_is_sunday_not_a_crontab_number() -> None:
    trigger = schedule.make_trigger(schedule.parse_schedule("sun 09:30"), ZoneInfo("UTC"))
    fire = trigger.get_next_fire_time(None, MONDAY_8)
    assert fire.strftime("%A %H:%M") == "Sunday 09:30"


def test_last_run_time_is_wall_clock_in_the_zone() -> None:
    weekly = schedule.parse_schedule("mon 08:00")
    summer_monday = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    assert schedule.last_run_time(weekly, LONDON, now=summer_monday) == datetime(
        2026, 3, 30, 7, 0, tzinfo=UTC
    )
    assert schedule.last_run_time(weekly, LONDON, now=MONDAY_8) == MONDAY_8
    assert schedule.last_run_time(weekly, LONDON, now=MONDAY_8 - timedelta(seconds=1)) == (
        MONDAY_8 - timedelta(days=7)
    )


def test_the_scheduler_registers_coalescing_jobs_with_the_grace(
    sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    scheduler = schedule.build_scheduler(sqlite_engine, sqlite_settings, **wired(sqlite_settings))
    weekly = scheduler.get_job("weekly-send")
    assert weekly is not None and weekly.coalesce and weekly.misfire_grace_time == 6 * 3600
    assert str(weekly.trigger.fields[4]) == "mon"  # day_of_week by name
    mail = scheduler.get_job("transactional-mail")
    assert mail is not None and mail.trigger.interval == schedule.MAIL_RETRY_EVERY
    assert mail.misfire_grace_time is None and mail.coalesce


def test_the_scheduler_retries_a_confirmation_the_transport_refused(
    engine: Engine, settings: Settings
) -> None:
    """A signup whose confirmation could not be sent at once gets it from the scheduler."""
    with session_scope(engine) as session:
        reader = subscriptions.add_subscriber(
            session, "late@example.com", route=ConsentRoute.FORM, now=MONDAY_8
        )
        message = mail_queue.queue_message(session, reader, MessageKind.CONFIRM, now=MONDAY_8)
        message_id = message.id
    assert schedule.retry_transactional_mail(
        engine, settings, transport=make_transport(settings), now=MONDAY_8
    ) == ("sent 1 pending transactional message(s)")
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1
    with session_scope(engine) as session:
        stored = session.get(TransactionalMessage, message_id)
        assert stored is not None and stored.status == MessageStatus.SENT
    assert schedule.retry_transactional_mail(
        engine, settings, transport=make_transport(settings), now=MONDAY_8
    ) == ("sent 0 pending transactional message(s)")


def load_catalog(engine: Engine, *, now: datetime) -> None:
    with session_scope(engine) as session:
        catalog.import_comparisons(session, sample_documents(), now=now - timedelta(days=1))


def test_a_run_days_late_is_stale_and_sends_nothing(engine: Engine, settings: Settings) -> None:
    load_catalog(engine, now=MONDAY_8)
    outcome = schedule.weekly_run(
        engine, settings, **wired(settings), now=MONDAY_8 + timedelta(days=2)
    )
    assert outcome.startswith("stale")
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(Issue)).all() == []


def test_a_restart_days_after_a_sent_issue_is_not_called_stale(
    engine: Engine, settings: Settings
) -> None:
    load_catalog(engine, now=MONDAY_8)
    schedule.weekly_run(engine, settings, **wired(settings), now=MONDAY_8)
    later = schedule.weekly_run(
        engine, settings, **wired(settings), now=MONDAY_8 + timedelta(days=2)
    )
    assert later.startswith("the issue of 2026-11-16 was sent")


def test_the_scheduler_process_starts_and_waits_for_its_time(
    tmp_path: Path, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    metadata.create_all(engine)
    engine.dispose()
    env = digest_env(
        tmp_path, sqlite_url, DIGEST_SEND_SCHEDULE="wed 06:30", DIGEST_TIMEZONE="Europe/Berlin"
    )
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scheduler.py")],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        lines = []
        for line in process.stderr:
            lines.append(line)
            if "weekly send:" in line:
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "weekly send: wed 06:30 Europe/Berlin; next run" in lines[-1], lines
    assert "06:30:00+01:00" in lines[-1] or "06:30:00+02:00" in lines[-1]


def test_a_run_hours_late_within_the_grace_sends_once(engine: Engine, settings: Settings) -> None:
    load_catalog(engine, now=MONDAY_8)
    with session_scope(engine) as session:
        add_readers(session, 3)
    first = schedule.weekly_run(
        engine, settings, **wired(settings), now=MONDAY_8 + timedelta(hours=2)
    )
    again = schedule.weekly_run(
        engine, settings, **wired(settings), now=MONDAY_8 + timedelta(hours=3)
    )
    assert "sent=3" in first and "already sent" in again
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 3


def test_maintenance_resumes_paused_sends_and_purges_old_signups(
    engine: Engine, settings: Settings
) -> None:
    load_catalog(engine, now=MONDAY_8)
    with session_scope(engine) as session:
        add_readers(session, 2)
        stale = Subscriber(
            email="never@example.com",
            email_hash=email_hash("never@example.com"),
            status=SubscriberStatus.PENDING,
            created_at=MONDAY_8 - timedelta(days=90),
            consent_route=ConsentRoute.FORM,
            consent_at=MONDAY_8 - timedelta(days=90),
        )
        session.add(stale)
    with session_scope(engine) as session:
        issue = schedule.delivery.open_period_issue(session, settings, now=MONDAY_8)
        issue.status = IssueStatus.PAUSED
        session.add(issue)
    outcomes = schedule.maintenance_run(
        engine, settings, **wired(settings), now=MONDAY_8 + timedelta(hours=1)
    )
    assert "sent=2" in outcomes[0] and outcomes[-2] == "purged 1 unconfirmed signup(s)"
    assert outcomes[-1] == "closed 0 click window(s)"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_scheduler_processes_at_the_same_instant_send_one_issue(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    engine = make_engine(url)
    metadata.create_all(engine)
    load_catalog(engine, now=MONDAY_8)
    with session_scope(engine) as session:
        add_readers(session, 60)
    with FakeResend(delay=0.05) as fake:
        env = digest_env(
            tmp_path,
            url,
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url,
            DIGEST_RATE_LIMIT="1000",
            DIGEST_BATCH_SIZE="5",
            DIGEST_SECRET_KEY="k" * 40,
        )
        at = (MONDAY_8 + timedelta(minutes=1)).isoformat()
        processes = [
            subprocess.Popen(
                [DIGEST, "scheduler", "--once", "--now", at],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120) for p in processes]
        assert [p.returncode for p in processes] == [0, 0], outputs
        received = fake.recipients()
    assert received == {f"reader{n}@example.com": 1 for n in range(60)}
    with session_scope(engine, read_only=True) as session:
        stored = session.exec(select(Issue)).all()
    assert len(stored) == 1 and stored[0].status == IssueStatus.SENT
    engine.dispose()


SUNDAY_23 = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)  # Sunday of ISO week 2026-W47


def test_a_late_sunday_run_sends_that_week_and_does_not_skip_the_next(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    """Run 90 minutes late (Monday 00:30, inside the grace): the issue is Sunday's week's, so
    the next Sunday's on-time run still finds its own week unsent."""
    sunday = make_test_settings(tmp_path, settings.database_url, send_schedule="sun 23:00")
    import_docs(engine, week_of(SUNDAY_23, 2), now=SUNDAY_23)
    with session_scope(engine) as session:
        add_readers(session, 2)
    late = schedule.weekly_run(
        engine, sunday, **wired(sunday), now=SUNDAY_23 + timedelta(minutes=90)
    )
    next_sunday = SUNDAY_23 + timedelta(days=7)
    import_docs(engine, [comparison_doc(30, next_sunday - timedelta(days=2))], now=next_sunday)
    on_time = schedule.weekly_run(engine, sunday, **wired(sunday), now=next_sunday)
    assert "(2026-W47)" in late and "sent=2" in late
    assert "(2026-W48)" in on_time and "sent=2" in on_time
    with session_scope(engine, read_only=True) as session:
        stored = session.exec(select(Issue).order_by(Issue.number)).all()  # type: ignore[arg-type]
    assert [(i.number, i.period, i.status) for i in stored] == [
        (1, "2026-W47", IssueStatus.SENT),
        (2, "2026-W48", IssueStatus.SENT),
    ]
    assert stored[0].cutoff == SUNDAY_23 + timedelta(minutes=90)  # now is the compose cutoff
    assert len(list(sunday.outbox_dir.glob("*.eml"))) == 4


def test_the_scheduler_runs_one_job_at_a_time(
    sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    """Maintenance must not re-send a SENDING issue beside a long weekly send (that doubles
    the provider rate): the scheduler's jobs share one worker and run one after another."""
    scheduler = schedule.build_scheduler(sqlite_engine, sqlite_settings, **wired(sqlite_settings))
    runs: list[tuple[float, float]] = []

    def probe() -> None:
        started = time.monotonic()
        time.sleep(0.3)
        runs.append((started, time.monotonic()))

    runner = threading.Thread(target=scheduler.start, daemon=True)
    runner.start()
    try:
        for n in range(3):
            scheduler.add_job(probe, id=f"probe-{n}")  # each due at once
        deadline = time.monotonic() + 10
        while len(runs) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
        runner.join(timeout=10)
    assert len(runs) == 3
    ordered = sorted(runs)
    assert all(ordered[i][1] <= ordered[i + 1][0] for i in range(2)), ordered
