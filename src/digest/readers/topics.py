"""Which topics a reader gets: every topic (the default, new topics included) or the ones they
ticked, chosen on the subscribe form and changed on the preferences page.

A signup for an address already on file keeps its choice aside (`pending_topics`), like its
name, until the mailbox owner confirms: nobody can change another reader's topics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from digest import catalog
from digest.errors import InvalidInput, NotFound
from digest.models import Subscriber, SubscriberTopic, Topic

EVERY = "all"
MAX_TOPICS = 100  # more ticks than any form offers is not a choice, it is a flood
EMPTY_CHOICE = "tick at least one topic, or choose every topic"


@dataclass(frozen=True)
class TopicChoice:
    """`topic_ids` None: every topic, new ones included."""

    topic_ids: frozenset[int] | None = None

    @property
    def every(self) -> bool:
        return self.topic_ids is None

    def encode(self) -> str:
        """ "all", or the ids comma-separated in order: how a pending request keeps it."""
        return EVERY if self.topic_ids is None else ",".join(map(str, sorted(self.topic_ids)))


def choose(session: Session, slugs: Sequence[str], *, every: bool) -> TopicChoice:
    """The choice a form or JSON body makes. `every`, or no slug on the subscribe form (where
    ticking nothing means "everything"), is every topic; unknown slugs are refused by name and
    a merged topic's slug gives its successor."""
    if every:
        return TopicChoice()
    if len(slugs) > MAX_TOPICS:
        raise InvalidInput("topics", [("topics", f"at most {MAX_TOPICS} topics")])
    if not slugs:
        raise InvalidInput("topics", [("topics", EMPTY_CHOICE)])
    topics = catalog.resolve_slugs(session, [slug.strip() for slug in slugs])
    return TopicChoice(frozenset(topic.id for topic in topics if topic.id is not None))


def choice_of(session: Session, subscriber_id: int) -> TopicChoice:
    """What a reader gets now."""
    ids = session.exec(
        select(SubscriberTopic.topic_id).where(SubscriberTopic.subscriber_id == subscriber_id)
    ).all()
    return TopicChoice(frozenset(ids)) if ids else TopicChoice()


def chosen_topics(session: Session, subscriber_id: int) -> list[Topic] | None:
    """The reader's topics by name; None for every topic."""
    choice = choice_of(session, subscriber_id)
    if choice.topic_ids is None:
        return None
    rows = session.exec(select(Topic).where(col(Topic.id).in_(choice.topic_ids))).all()
    return sorted(rows, key=lambda topic: topic.name.casefold())


def store_choice(session: Session, subscriber_id: int, choice: TopicChoice) -> None:
    """Replace the reader's topics (no rows: every topic)."""
    session.execute(
        delete(SubscriberTopic).where(col(SubscriberTopic.subscriber_id) == subscriber_id)
    )
    if choice.topic_ids:
        rows = [{"subscriber_id": subscriber_id, "topic_id": t} for t in sorted(choice.topic_ids)]
        session.execute(insert(SubscriberTopic), rows)


def decode(session: Session, stored: str) -> TopicChoice:
    """A pending request's choice, read back; topics merged since then give their successors.
    If none of its topics exists any more (never, unless rows were deleted by hand) it is every
    topic rather than nothing."""
    if stored == EVERY:
        return TopicChoice()
    live = set()
    for part in stored.split(","):
        if part.isdigit():
            try:
                topic = catalog.live_topic(session, int(part))
            except NotFound:
                continue
            if topic.id is not None:
                live.add(topic.id)
    return TopicChoice(frozenset(live)) if live else TopicChoice()


def apply_pending_topics(session: Session, subscriber: Subscriber) -> None:
    """The owner confirmed: the topics their request asked for become theirs."""
    if subscriber.pending_topics is None or subscriber.id is None:
        return
    store_choice(session, subscriber.id, decode(session, subscriber.pending_topics))
    subscriber.pending_topics = None


def export_topics(session: Session, subscriber_id: int) -> list[str] | str:
    """For "download my data": the topic names, or "all"."""
    topics = chosen_topics(session, subscriber_id)
    return EVERY if topics is None else [topic.name for topic in topics]
