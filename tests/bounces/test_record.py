"""Recording bounces through webhooks.apply_event on both engines: the signed VERP address
names the delivery; hard bounces and complaints suppress at once, soft ones count once per
message and suppress at DIGEST_BOUNCE_SOFT_LIMIT; a delivered event resets the count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest import bounces
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import claims
from digest.models import (
    ConsentRoute,
    Delivery,
    DeliveryMark,
    MessageKind,
    Subscriber,
    SubscriberStatus,
)
from digest.readers import mail_queue, subscriptions
from digest.transports.verp import verp_address
from digest.webhooks import DeliveryEvent, EventType, apply_event
from tests.support.bounce_mail import arf_report, dsn
from tests.support.ledger import add_readers, frozen_issue

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
DOMAIN = "bounces.example.com"


@pytest.fixture
def verp_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"bounce_domain": DOMAIN, "bounce_soft_limit": 3})


def three_issues_for_one_reader(engine: Engine, settings: Settings) -> tuple[int, list[str]]:
    """A reader with a delivery in each of three issues; returns its id and the references."""
    with session_scope(engine) as session:
        [reader] = add_readers(session, 1)
        references = []
        for number in (1, 2, 3):
            issue = frozen_issue(session, number=number)
            claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=NOW)
            references.append(f"i{issue.id}-s{reader.id}")
        assert reader.id is not None
        return reader.id, references


def record(engine: Engine, settings: Settings, raw: bytes, *, to: str) -> str:
    bounce = bounces.read_bounce(raw, envelope_to=[to])
    with session_scope(engine) as session:
        return bounces.record_bounce(session, bounce, settings=settings, now=NOW)


def status_of(engine: Engine, reader_id: int) -> tuple[SubscriberStatus, int]:
    with session_scope(engine, read_only=True) as session:
        reader = session.get(Subscriber, reader_id)
        assert reader is not None
        return reader.status, reader.soft_bounces


def verp(settings: Settings, reference: str) -> str:
    address = verp_address(settings.secret, DOMAIN, reference)
    assert address is not None
    return address


def test_a_hard_bounce_suppresses_the_reader_its_verp_names_once(
    engine: Engine, verp_settings: Settings
) -> None:
    reader_id, references = three_issues_for_one_reader(engine, verp_settings)
    raw = dsn("someone-else@example.org", status="5.1.1", diagnostic="550 5.1.1 user unknown")
    first = record(engine, verp_settings, raw, to=verp(verp_settings, references[0]))
    again = record(engine, verp_settings, raw, to=verp(verp_settings, references[0]))
    assert "suppressed 1 subscriber(s), 1 deliveries marked" in first
    assert "duplicate" in again
    assert status_of(engine, reader_id)[0] == SubscriberStatus.BOUNCED
    with session_scope(engine, read_only=True) as session:
        marks = session.exec(select(DeliveryMark.event)).all()
    assert marks == ["bounced"]


def test_soft_bounces_count_once_per_message_and_suppress_at_the_limit(
    engine: Engine, verp_settings: Settings
) -> None:
    reader_id, references = three_issues_for_one_reader(engine, verp_settings)
    full = "552 5.2.2 mailbox full"
    for n, reference in enumerate(references[:2], start=1):
        record(engine, verp_settings, dsn("a@b.example", status="5.2.2", diagnostic=full),
               to=verp(verp_settings, reference))  # fmt: skip
        assert status_of(engine, reader_id) == (SubscriberStatus.CONFIRMED, n)
    replay = dsn("a@b.example", status="5.2.2", diagnostic=full)  # a new id, an old message
    assert "already counted" in record(
        engine, verp_settings, replay, to=verp(verp_settings, references[1])
    )
    assert status_of(engine, reader_id) == (SubscriberStatus.CONFIRMED, 2)
    record(engine, verp_settings, dsn("a@b.example", status="5.2.2", diagnostic=full),
           to=verp(verp_settings, references[2]))  # fmt: skip
    assert status_of(engine, reader_id) == (SubscriberStatus.BOUNCED, 3)


def test_a_delivered_event_resets_the_soft_count(engine: Engine, verp_settings: Settings) -> None:
    reader_id, references = three_issues_for_one_reader(engine, verp_settings)
    record(engine, verp_settings, dsn("a@b.example", status="4.2.2", diagnostic="452 over quota"),
           to=verp(verp_settings, references[0]))  # fmt: skip
    assert status_of(engine, reader_id)[1] == 1
    with session_scope(engine) as session:
        delivery = session.exec(select(Delivery).order_by(col(Delivery.id))).all()[1]
        delivery.provider_id = "em_2"
        session.add(delivery)
    delivered = DeliveryEvent(
        "msg_d", EventType.DELIVERED, "email.delivered", "em_2", (), False, ""
    )
    with session_scope(engine) as session:
        apply_event(session, delivered, now=NOW)
    assert status_of(engine, reader_id) == (SubscriberStatus.CONFIRMED, 0)


def test_a_complaint_names_its_message_by_the_quoted_return_path(
    engine: Engine, verp_settings: Settings
) -> None:
    reader_id, references = three_issues_for_one_reader(engine, verp_settings)
    raw = arf_report("reader0@example.com", return_path=verp(verp_settings, references[0]))
    assert "suppressed 1" in record(engine, verp_settings, raw, to=f"abuse@{DOMAIN}")
    assert status_of(engine, reader_id)[0] == SubscriberStatus.COMPLAINED


def test_forged_or_missing_verp_suppresses_nobody(engine: Engine, verp_settings: Settings) -> None:
    reader_id, references = three_issues_for_one_reader(engine, verp_settings)
    good = verp(verp_settings, references[0])
    forged = good.replace(references[0], references[1])  # another message, the first's signature
    raw = dsn("reader0@example.com", status="5.1.1", diagnostic="550 user unknown", to=forged)
    outcome = record(engine, verp_settings, raw, to=forged)
    assert "no signed VERP address" in outcome
    raw = dsn("reader0@example.com", status="5.1.1", diagnostic="550 user unknown")
    assert "no signed VERP address" in record(engine, verp_settings, raw, to=f"bounces@{DOMAIN}")
    assert status_of(engine, reader_id) == (SubscriberStatus.CONFIRMED, 0)


def test_a_bounced_confirmation_suppresses_its_reader(
    engine: Engine, verp_settings: Settings
) -> None:
    """A reader's own mail (here a confirmation) carries its reference in the VERP address."""
    with session_scope(engine) as session:
        reader = subscriptions.add_subscriber(
            session, "new@example.org", route=ConsentRoute.FORM, now=NOW
        )
        message = mail_queue.queue_message(session, reader, MessageKind.CONFIRM, now=NOW)
        reader_id, reference = reader.id, message.reference
    assert reader_id is not None
    raw = dsn("new@example.org", status="5.1.1", diagnostic="550 5.1.1 no such user")
    assert "suppressed 1" in record(engine, verp_settings, raw, to=verp(verp_settings, reference))
    assert status_of(engine, reader_id)[0] == SubscriberStatus.BOUNCED
