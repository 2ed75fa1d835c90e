"""subscriptions.py against real SQLite and PostgreSQL: add, normalise, hash, purge, mailable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.db import session_scope
from digest.errors import Conflict, InvalidInput
from digest.models import (
    ConsentRoute,
    MessageKind,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
)
from digest.readers import mail_queue, privacy, subscriptions

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann@Example.COM", "ann@example.com"),
        ("  bob@example.org \n", "bob@example.org"),
        ("zoe@exämple.de", "zoe@exämple.de"),  # non-ASCII local parts: see below
    ],
)
def test_normalise_email(raw: str, expected: str) -> None:
    assert subscriptions.normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "plain", "a@", "@b.com", "a b@example.com", "a@example..com", "x" * 300]
)
def test_normalise_email_refuses_bad_addresses(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        subscriptions.normalise_email(raw)
    assert caught.value.problems[0][0] == "email"
    assert caught.value.message


def test_email_hash_is_stable_across_spellings() -> None:
    digest = subscriptions.email_hash("Ann@Example.com")
    assert digest == subscriptions.email_hash(" ann@example.com")
    assert len(digest) == 64 and "ann" not in digest


def test_add_subscriber_records_consent(engine: Engine) -> None:
    with session_scope(engine) as session:
        added = subscriptions.add_subscriber(
            session,
            "Ann@Example.com",
            name=" Ann \x07",
            route=ConsentRoute.FORM,
            now=NOW,
            ip="203.0.113.9",
            user_agent="Browser/1.0",
        )
    with session_scope(engine, read_only=True) as session:
        stored = session.get(Subscriber, added.id)
        assert stored is not None
        assert stored.email == "ann@example.com"
        assert stored.name == "Ann"
        assert stored.status == SubscriberStatus.PENDING
        assert not subscriptions.is_mailable(stored)
        assert (stored.consent_at, stored.consent_ip, stored.consent_user_agent) == (
            NOW,
            "203.0.113.9",
            "Browser/1.0",
        )
        assert stored.consent_route == ConsentRoute.FORM
        assert stored.confirmed_at is None


def test_add_confirmed_subscriber_is_mailable(engine: Engine) -> None:
    with session_scope(engine) as session:
        added = subscriptions.add_subscriber(
            session, "b@example.com", confirmed=True, route=ConsentRoute.CLI, now=NOW
        )
        assert added.status == SubscriberStatus.CONFIRMED
        assert added.confirmed_at == NOW
        assert subscriptions.is_mailable(added)


def test_add_subscriber_twice_is_a_conflict(engine: Engine) -> None:
    with session_scope(engine) as session:
        subscriptions.add_subscriber(session, "c@example.com", route=ConsentRoute.CLI, now=NOW)
    with pytest.raises(Conflict, match="already on the list"), session_scope(engine) as session:
        subscriptions.add_subscriber(session, "C@example.com", route=ConsentRoute.CLI, now=NOW)


def test_purge_unconfirmed_deletes_only_old_pending(engine: Engine) -> None:
    week = timedelta(days=7)
    with session_scope(engine) as session:
        for address, when, confirmed in [
            ("old-pending@example.com", NOW - week - timedelta(minutes=1), False),
            ("new-pending@example.com", NOW - week + timedelta(minutes=1), False),
            ("old-confirmed@example.com", NOW - 2 * week, True),
        ]:
            subscriptions.add_subscriber(
                session, address, confirmed=confirmed, route=ConsentRoute.FORM, now=when
            )
    with session_scope(engine) as session:
        assert subscriptions.purge_unconfirmed(session, now=NOW, older_than=week) == 1
    with session_scope(engine, read_only=True) as session:
        assert subscriptions.find_by_email(session, "old-pending@example.com") is None
        assert subscriptions.find_by_email(session, "new-pending@example.com") is not None
        assert subscriptions.find_by_email(session, "old-confirmed@example.com") is not None


def test_purge_takes_the_unsent_confirmation_with_it(engine: Engine) -> None:
    old = NOW - timedelta(days=40)
    with session_scope(engine) as session:
        pending = subscriptions.add_subscriber(
            session, "gone@example.com", route=ConsentRoute.FORM, now=old
        )
        mail_queue.queue_message(session, pending, MessageKind.CONFIRM, now=old)
    with session_scope(engine) as session:
        assert subscriptions.purge_unconfirmed(session, now=NOW, older_than=timedelta(days=30)) == 1
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(TransactionalMessage)).all() == []


def test_lifecycle_unsubscribe_resubscribe_suppress(engine: Engine) -> None:
    with session_scope(engine) as session:
        reader = subscriptions.add_subscriber(
            session, "r@example.com", confirmed=True, route=ConsentRoute.CLI, now=NOW
        )
        reader_id = reader.id or 0
        never = subscriptions.add_subscriber(
            session, "n@example.com", route=ConsentRoute.FORM, now=NOW
        )
        never_id = never.id or 0
    with session_scope(engine) as session:
        assert (
            subscriptions.unsubscribe_subscriber(session, reader_id, now=NOW).status
            == SubscriberStatus.UNSUBSCRIBED
        )
        assert (
            subscriptions.resubscribe_subscriber(session, reader_id, now=NOW).status
            == SubscriberStatus.CONFIRMED
        )
        subscriptions.unsubscribe_subscriber(session, never_id, now=NOW)
    with pytest.raises(Conflict, match="never confirmed"), session_scope(engine) as session:
        subscriptions.resubscribe_subscriber(session, never_id, now=NOW)
    with session_scope(engine) as session:
        subscriptions.suppress_subscriber(
            session, reader_id, status=SubscriberStatus.COMPLAINED, now=NOW
        )
        assert not subscriptions.is_mailable(subscriptions.get_subscriber(session, reader_id))
    for action in (subscriptions.confirm_subscriber, subscriptions.resubscribe_subscriber):
        with pytest.raises(Conflict, match="spam"), session_scope(engine) as session:
            action(session, reader_id, now=NOW)
    with session_scope(engine) as session:
        privacy.erase_subscriber(session, reader_id, now=NOW)
    with session_scope(engine, read_only=True) as session:
        erased = subscriptions.get_subscriber(session, reader_id)
        assert erased.status == SubscriberStatus.ERASED and erased.suppressed_at == NOW


@pytest.mark.parametrize("raw", ["josé@example.com", "用户@example.com"])
def test_non_ascii_local_part_is_refused_clearly(raw: str) -> None:
    with pytest.raises(InvalidInput, match="only ASCII letters before the @"):
        subscriptions.normalise_email(raw)


def test_internationalised_domain_is_fine() -> None:
    assert subscriptions.normalise_email("Ann@Bücher.example").startswith("ann@")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann\u00a0Lee", "Ann Lee"),  # a no-break space is a space, not nothing
        ("Ann\u200bLee", "Ann Lee"),  # so is a zero-width space
        ("Ann\u2028Lee", "Ann Lee"),  # a line separator never makes a name two lines
        ("  Ann \t Lee\n", "Ann Lee"),
        ("Ann\x00\x1b[31mLee", "Ann[31mLee"),  # controls go
        ("\u202eeeL nnA", "eeL nnA"),  # a bidi override cannot flip what others see
        ("\U0001f469\u200d\U0001f4bb Ann", "\U0001f469\u200d\U0001f4bb Ann"),  # ZWJ emoji kept
        ("\u00a0\u200b", None),
    ],
)
def test_clean_name_turns_every_kind_of_space_into_one(raw: str, expected: str | None) -> None:
    assert subscriptions.clean_name(raw) == expected
