"""The welcome email: once per confirmation (double confirm, crash, retry), skipped when the issue
is near, carrying the latest issue's cards in the reader's topics, greeting by name or not at all."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import issues, render
from digest.config import Settings
from digest.db import session_scope
from digest.models import ConsentRoute, MessageKind, MessageStatus, TransactionalMessage
from digest.readers import mail_compose, mail_queue, signup, subscriptions, welcome
from digest.render import lint_email, passed
from digest.render.engine import marker
from digest.transports import make_transport
from tests.support.issue_data import import_docs, topical_week, topics_of_doc
from tests.support.mailbox import Mail, outbox_mail
from tests.support.readers import subscribe_now
from tests.support.settings import make_test_settings

# A Wednesday: the next issue (mon 08:00 UTC) is days away.
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
CARD = re.compile(r"https://site\.test/compare/([a-z0-9-]+)")


def sign_up(engine: Engine, settings: Settings, email: str, name: str | None, *chosen: str) -> int:
    request = signup.SignupRequest(email=email, name=name, route=ConsentRoute.API, topics=chosen)
    with session_scope(engine) as session:
        subscribe_now(session, settings, request, now=NOW - timedelta(hours=1))
        found = subscriptions.find_by_email(session, email)
        assert found is not None and found.id is not None
        return found.id


def confirm(engine: Engine, settings: Settings, reader: int) -> mail_queue.Held | None:
    with session_scope(engine) as session:
        _, held = welcome.confirm_and_welcome(session, reader, settings=settings, now=NOW)
    return held


def welcomes(engine: Engine) -> list[TransactionalMessage]:
    with session_scope(engine, read_only=True) as session:
        query = select(TransactionalMessage).where(TransactionalMessage.kind == MessageKind.WELCOME)
        return list(session.exec(query).all())


def sent_welcomes(settings: Settings) -> list[Mail]:
    return [m for m in outbox_mail(settings.outbox_dir) if m.subject.startswith("Welcome")]


def publish_week(engine: Engine, settings: Settings) -> dict[str, set[str]]:
    week = topical_week(NOW - timedelta(days=1), 8, long=False)
    import_docs(engine, week, now=NOW - timedelta(days=1))
    with session_scope(engine) as session:
        draft = issues.claim_issue(session, settings, now=NOW - timedelta(days=1))
        issues.freeze_issue(session, settings, draft, now=NOW - timedelta(days=1))
    return {doc["slug"]: topics_of_doc(doc) for doc in week}


def test_a_double_confirm_queues_one_welcome(settings: Settings, engine: Engine) -> None:
    reader = sign_up(engine, settings, "ann@example.com", "Ann")
    first, second = confirm(engine, settings, reader), confirm(engine, settings, reader)
    assert first is not None and second is None
    assert len(welcomes(engine)) == 1


def test_racing_confirmations_queue_one_welcome(settings: Settings, engine: Engine) -> None:
    reader = sign_up(engine, settings, "ann@example.com", "Ann")
    held: list[object] = []
    barrier = threading.Barrier(4)

    def confirm_at_once() -> None:
        barrier.wait()
        held.append(confirm(engine, settings, reader))

    threads = [threading.Thread(target=confirm_at_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([h for h in held if h is not None]) == 1 and len(welcomes(engine)) == 1


def test_a_crash_before_sending_and_a_refusal_still_send_it_once(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    reader = sign_up(engine, settings, "ann@example.com", "Ann")
    held = confirm(engine, settings, reader)
    assert held is not None  # ...and the process dies before sending it
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    failing = make_test_settings(tmp_path, settings.database_url, outbox_dir=blocker / "outbox")
    later = NOW + mail_queue.LEASE
    assert (
        mail_queue.send_pending_messages(
            engine, failing, transport=make_transport(failing), now=later
        )
        == 0
    )  # the retry loop takes it over; the transport refuses
    for moment in (later, later + timedelta(hours=3), later + timedelta(days=1)):
        mail_queue.send_pending_messages(
            engine, settings, transport=make_transport(settings), now=moment
        )
    [message] = welcomes(engine)
    assert message.status == MessageStatus.SENT and message.attempts == 3  # held, refused, sent
    assert len(sent_welcomes(settings)) == 1


def test_the_welcome_carries_the_latest_cards_in_the_readers_topics(
    settings: Settings, engine: Engine
) -> None:
    slugs = publish_week(engine, settings)
    reader = sign_up(engine, settings, "ann@example.com", 'Ann <b>"&', "design", "video")
    held = confirm(engine, settings, reader)
    assert held is not None and held.message.issue_id is not None
    transport = make_transport(settings)
    assert mail_queue.deliver_held(engine, settings, held, transport=transport, now=NOW)
    [mail] = sent_welcomes(settings)
    wanted = [slug for slug, names in slugs.items() if names & {"Design", "Video"}]
    shown = set(wanted[: render.welcome.WELCOME_CARDS])  # the newest; the rest are counted
    assert set(CARD.findall(mail.html)) == set(CARD.findall(mail.text)) == shown
    more = len(wanted) - len(shown)
    assert more > 0 and f"({more} more comparison" in mail.text
    assert "Hi Ann &lt;b&gt;&#34;&amp;," in mail.html or "Hi Ann &lt;b&gt;&quot;&amp;," in mail.html
    assert '\nHi Ann <b>"&,\n' in mail.text and "<b>" not in mail.html.replace("&lt;b&gt;", "")
    assert "You chose: Design, Video." in " ".join(mail.text.split())
    assert "/unsubscribe/" in mail.link("unsubscribe") and "/preferences/" in mail.link(
        "preferences"
    )
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Monday 23 November, 08:00 UTC" in " ".join(mail.text.split())


def test_before_the_first_issue_it_says_what_to_expect_and_greets_nobody_by_blank(
    settings: Settings, engine: Engine
) -> None:
    reader = sign_up(engine, settings, "bob@example.com", None)
    held = confirm(engine, settings, reader)
    assert held is not None and held.message.issue_id is None
    mail_queue.deliver_held(engine, settings, held, transport=make_transport(settings), now=NOW)
    [mail] = sent_welcomes(settings)
    text = " ".join(mail.text.split())
    assert "No issue has gone out yet" in text and "every Monday, 08:00 UTC" in text
    assert "Hi " not in mail.text and "Hi " not in mail.html and "Hi ," not in mail.html
    assert mail.text.startswith(f"{settings.newsletter_name}\n\nWelcome: you're in\n")


@pytest.mark.parametrize(("hours", "sent"), [(0, True), (24 * 7, False)])
def test_no_welcome_when_the_issue_is_that_close(
    tmp_path: Path, settings: Settings, engine: Engine, hours: int, sent: bool
) -> None:
    near = make_test_settings(tmp_path, settings.database_url, welcome_skip_hours=hours)
    reader = sign_up(engine, near, "ann@example.com", "Ann")
    assert (confirm(engine, near, reader) is not None) is sent
    with session_scope(engine, read_only=True) as session:
        next_issue = issues.next_issue_at(session, near, now=NOW)
    assert welcome.welcome_due(near, next_issue, now=NOW) is sent


def test_the_welcome_body_is_shared_and_passes_the_checks(
    settings: Settings, engine: Engine
) -> None:
    publish_week(engine, settings)
    reader = sign_up(engine, settings, "ann@example.com", "Ann")
    held = confirm(engine, settings, reader)
    assert held is not None
    with session_scope(engine, read_only=True) as session:
        loaded = mail_compose.load_welcome(session, held.message, held.subscriber)
    body = mail_compose.welcome_body(settings, loaded, NOW + timedelta(days=5))
    assert passed(lint_email(body)), lint_email(body)
    # the name is filled per recipient like the links: the compiled body has only markers
    assert marker("greeting") in body.html and marker("greeting") in body.text
    assert "Ann" not in body.html + body.text


def test_an_unusable_schedule_still_welcomes(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    """The scheduler refuses to start on a bad DIGEST_SEND_SCHEDULE; readers are still welcomed."""
    odd = make_test_settings(tmp_path, settings.database_url, send_schedule="someday soon")
    reader = sign_up(engine, odd, "ann@example.com", None)
    held = confirm(engine, odd, reader)
    assert held is not None
    mail_queue.deliver_held(engine, odd, held, transport=make_transport(odd), now=NOW)
    [mail] = sent_welcomes(odd)
    assert "Issues go out every week" in " ".join(mail.text.split())
    assert "The next one arrives soon." in " ".join(mail.text.split())
