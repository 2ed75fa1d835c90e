"""Who gets which copy of an issue: decided once, when the issue is enqueued.

A reader who takes every topic gets the issue's own copy. A reader who chose topics gets the
variant of those of their topics the week has something in (rendered once per distinct set by
`issues.freeze_variants`); a reader whose topics have nothing this week gets nothing, and the
ledger says why. The greeting name is fixed here too: a batch sent again after a crash must be
the very payload its idempotency key first carried.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from digest import issues
from digest.config import Settings
from digest.models import Issue, Subscriber, SubscriberStatus, SubscriberTopic

NOTHING_IN_TOPICS = "nothing this week in the reader's topics"


@dataclass(frozen=True)
class Seat:
    subscriber_id: int
    name: str | None
    variant_id: int | None = None  # None: the issue's own copy (every topic)
    skip: str | None = None  # why this reader gets nothing this week


def confirmed_readers(session: Session) -> list[tuple[int, str | None]]:
    """(id, name) of every confirmed reader with an address, in id order."""
    query = (
        select(Subscriber.id, Subscriber.name)
        .where(col(Subscriber.status) == SubscriberStatus.CONFIRMED)
        .where(col(Subscriber.email).is_not(None))
        .order_by(col(Subscriber.id))
    )
    return [(int(i), name) for i, name in session.exec(query).all() if i is not None]


def chosen_topics(session: Session) -> dict[int, frozenset[int]]:
    """Every reader who chose topics, with those topics (readers without rows take all)."""
    chosen: dict[int, set[int]] = defaultdict(set)
    for subscriber_id, topic_id in session.exec(
        select(SubscriberTopic.subscriber_id, SubscriberTopic.topic_id)
    ).all():
        chosen[subscriber_id].add(topic_id)
    return {subscriber_id: frozenset(ids) for subscriber_id, ids in chosen.items()}


def plan_audience(session: Session, settings: Settings, issue: Issue) -> list[Seat]:
    """One seat per confirmed reader, in id order, with its copy (or why there is none)."""
    readers = confirmed_readers(session)
    chosen = chosen_topics(session)
    if not any(subscriber_id in chosen for subscriber_id, _ in readers):
        return [Seat(subscriber_id, name) for subscriber_id, name in readers]
    week = issues.week_topics(session, issue)
    wanted = {sid: chosen[sid] & week for sid, _ in readers if sid in chosen}
    variants = issues.freeze_variants(
        session, settings, issue, set(wanted.values()) - {frozenset()}
    )
    seats = []
    for subscriber_id, name in readers:
        if subscriber_id not in wanted:
            seats.append(Seat(subscriber_id, name))
        elif wanted[subscriber_id] in variants:
            seats.append(Seat(subscriber_id, name, variant_id=variants[wanted[subscriber_id]]))
        else:
            seats.append(Seat(subscriber_id, name, skip=NOTHING_IN_TOPICS))
    return seats
