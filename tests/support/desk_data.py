"""A small, known history for the desk's figures: readers who joined and left at set times,
two sent issues with copies in every state, and the provider's marks and events on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from digest.models import (
    Batch,
    BatchStatus,
    ConsentRoute,
    Delivery,
    DeliveryMark,
    DeliveryStatus,
    Issue,
    IssueStatus,
    Subscriber,
    SubscriberStatus,
    WebhookEvent,
)
from digest.readers.subscriptions import email_hash

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday
FIRST_SENT = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)  # Monday, the week before
SECOND_SENT = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # Monday, this week
# Markup, an attribute break-out and a right-to-left override: every page must show it inert
HOSTILE_NAME = '<script>alert(1)</script>"><img src=x onerror=alert(2)> \u202eevil'


@dataclass
class History:
    issue_ids: list[int]
    reader_ids: list[int]


def reader(
    session: Session,
    n: int,
    *,
    status: SubscriberStatus = SubscriberStatus.CONFIRMED,
    confirmed_at: datetime | None = None,
    unsubscribed_at: datetime | None = None,
    name: str | None = None,
) -> Subscriber:
    address = f"reader{n}@example.com"
    row = Subscriber(
        email=address,
        email_hash=email_hash(address),
        name=name if name is not None else f"Reader {n}",
        status=status,
        created_at=confirmed_at or NOW,
        confirmed_at=confirmed_at,
        unsubscribed_at=unsubscribed_at,
        consent_route=ConsentRoute.FORM,
        consent_at=confirmed_at or NOW,
        consent_ip="192.0.2.1",
    )
    session.add(row)
    session.flush()
    return row


def sent_issue(session: Session, number: int, at: datetime) -> Issue:
    issue = Issue(
        number=number,
        period=f"2026-W{45 + number:02d}",
        status=IssueStatus.SENT,
        subject=f"Issue #{number}",
        preheader="p",
        html="<p>x</p>",
        text="x",
        created_at=at,
        frozen_at=at,
        sent_at=at + timedelta(minutes=5),
    )
    session.add(issue)
    session.flush()
    return issue


def copy(
    session: Session,
    issue: Issue,
    subscriber: Subscriber,
    status: DeliveryStatus,
    *,
    marks: tuple[str, ...] = (),
    error: str | None = None,
) -> Delivery:
    assert issue.id is not None and subscriber.id is not None
    batch = Batch(
        issue_id=issue.id,
        number=subscriber.id,
        idempotency_key=f"k-{issue.id}-{subscriber.id}",
        status=BatchStatus.DONE,
        next_attempt_at=issue.frozen_at or NOW,
    )
    session.add(batch)
    session.flush()
    assert batch.id is not None
    row = Delivery(
        issue_id=issue.id,
        subscriber_id=subscriber.id,
        batch_id=batch.id,
        status=status,
        provider_id=f"re_{issue.id}_{subscriber.id}",
        error=error,
        finished_at=issue.frozen_at,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    for event in marks:
        at = (issue.frozen_at or NOW) + timedelta(hours=1)
        session.add(DeliveryMark(delivery_id=row.id, event=event, at=at))
        session.add(
            WebhookEvent(
                svix_id=f"msg_{row.id}_{event}",
                event_type=f"email.{event}",
                provider_email_id=row.provider_id,
                outcome="recorded",
                received_at=at,
            )
        )
    session.flush()
    return row


def build_history(session: Session) -> History:
    """Issue #1 (last week) to readers 0-9; issue #2 (this week) to readers 0-7.

    #1: 8 sent, 1 failed, 1 skipped; 7 delivered, 1 bounced (reader 7), 1 complained (reader
    6, who also got #2); reader 7 unsubscribed after #1; reader 8 left too, but their copy
    of #1 failed, so it is not "after #1".
    #2: 6 sent, 1 failed; 6 delivered; reader 0 unsubscribed after #2 (so not after #1).
    """
    week_before = FIRST_SENT - timedelta(days=3)
    people = [reader(session, n, confirmed_at=week_before) for n in range(10)]
    people.append(reader(session, 10, status=SubscriberStatus.PENDING))
    first, second = sent_issue(session, 1, FIRST_SENT), sent_issue(session, 2, SECOND_SENT)
    for n in range(7):
        marks = ("delivered", "complained") if n == 6 else ("delivered",)
        copy(session, first, people[n], DeliveryStatus.SENT, marks=marks)
    copy(session, first, people[7], DeliveryStatus.SENT, marks=("bounced",))
    copy(session, first, people[8], DeliveryStatus.FAILED, error="mailbox unavailable")
    copy(session, first, people[9], DeliveryStatus.SKIPPED)
    _leave(people[7], FIRST_SENT + timedelta(days=1))
    _leave(people[8], FIRST_SENT + timedelta(days=2))  # failed: not counted as "after #1"
    for n in range(6):
        copy(session, second, people[n], DeliveryStatus.SENT, marks=("delivered",))
    copy(session, second, people[6], DeliveryStatus.FAILED, error="mailbox unavailable")
    _leave(people[0], SECOND_SENT + timedelta(hours=3))
    session.add_all(people)
    session.flush()
    return History(
        issue_ids=[first.id or 0, second.id or 0], reader_ids=[p.id or 0 for p in people]
    )


def _leave(subscriber: Subscriber, at: datetime) -> None:
    subscriber.status = SubscriberStatus.UNSUBSCRIBED
    subscriber.unsubscribed_at = at
