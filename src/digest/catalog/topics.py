"""Topics: the categories the site gives its tools, as readers choose them.

Every category an import brings becomes a topic the first time it is seen (a tool without one
belongs to "Other"); `topic_category` remembers which topic each category string belongs to.
An editor may rename a topic (its slug stays: forms and the API use it) or merge one into
another: the merged topic's categories and every reader's choice of it move to the other, and it
stays behind as a tombstone that resolves to its successor, so nothing anyone chose is lost.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, update
from sqlmodel import Session, col, select

from digest.errors import Conflict, InvalidInput, NotFound
from digest.models import ComparisonTool, SubscriberTopic, Tool, Topic, TopicCategory
from digest.text import one_line

OTHER = "Other"
MAX_NAME = 120
MAX_MERGE_DEPTH = 50  # a chain of merges longer than this is a loop someone wrote by hand


def slugify(name: str) -> str:
    """ "Developer Tools" -> "developer-tools" (ASCII, for forms and URLs)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:100] or "topic"


def category_key(category: str | None) -> str:
    """The form a category is looked up by: one line, case-folded; no category is "Other"."""
    return _clean_name(category or OTHER).casefold()


def _clean_name(name: str) -> str:
    return one_line(name)[:MAX_NAME] or OTHER


def topic_for_category(session: Session, category: str | None, *, now: datetime) -> Topic:
    """The live topic a category belongs to, created (with its mapping) the first time."""
    key = category_key(category)
    mapped = session.get(TopicCategory, key)
    if mapped is not None:
        return live_topic(session, mapped.topic_id)
    name = _clean_name(category or OTHER)
    topic = _find_by_name(session, name) or _create(session, name, now=now)
    assert topic.id is not None
    session.add(TopicCategory(category=key, topic_id=topic.id))
    session.flush()
    return topic


def _find_by_name(session: Session, name: str) -> Topic | None:
    """The live topic of that name, or the one a merged topic of that name became."""
    wanted = name.casefold()
    for topic in session.exec(select(Topic)).all():
        if topic.name.casefold() == wanted and topic.id is not None:
            return live_topic(session, topic.id)
    return None


def _holder_of_name(session: Session, name: str) -> Topic | None:
    """Whichever topic row (live or merged) carries this name: names are unique in the table."""
    wanted = name.casefold()
    return next(
        (topic for topic in session.exec(select(Topic)).all() if topic.name.casefold() == wanted),
        None,
    )


def _create(session: Session, name: str, *, now: datetime) -> Topic:
    taken = set(session.exec(select(Topic.slug)).all())
    base = slug = slugify(name)
    counter = 2
    while slug in taken:
        slug, counter = f"{base}-{counter}", counter + 1
    topic = Topic(slug=slug, name=name, created_at=now)
    session.add(topic)
    session.flush()
    return topic


def live_topic(session: Session, topic_id: int) -> Topic:
    """The topic itself, or the one it was merged into (following a chain of merges)."""
    for _ in range(MAX_MERGE_DEPTH):
        topic = session.get(Topic, topic_id)
        if topic is None:
            raise NotFound(f"no topic with id {topic_id}")
        if topic.merged_into_id is None:
            return topic
        topic_id = topic.merged_into_id
    raise Conflict(f"topic {topic_id} is merged in a loop; fix topic.merged_into_id")


def list_topics(session: Session) -> list[Topic]:
    """The topics readers can choose, by name."""
    query = select(Topic).where(col(Topic.merged_into_id).is_(None)).order_by(col(Topic.name))
    return list(session.exec(query).all())


def find_topic(session: Session, ref: str) -> Topic:
    """A topic by slug or name (case-insensitive), merged ones resolved; NotFound says so."""
    wanted = ref.strip().casefold()
    for topic in session.exec(select(Topic)).all():
        if wanted in (topic.slug, topic.name.casefold()):
            assert topic.id is not None
            return live_topic(session, topic.id)
    raise NotFound(f"there is no topic {ref.strip()!r}; see: digest topics list")


def resolve_slugs(session: Session, slugs: Iterable[str], *, field: str = "topics") -> list[Topic]:
    """The live topics these slugs name (a merged topic's slug gives its successor), in name
    order and without repeats. InvalidInput names every slug we do not know."""
    by_slug = {topic.slug: topic for topic in session.exec(select(Topic)).all()}
    unknown = [slug for slug in slugs if slug not in by_slug]
    if unknown:
        shown = ", ".join(repr(slug[:60]) for slug in unknown[:5])
        problem = f"we have no topic {shown} (any more); pick from the list"
        raise InvalidInput(field, [(field, problem)])
    live = {}
    for slug in slugs:
        topic_id = by_slug[slug].id
        assert topic_id is not None
        topic = live_topic(session, topic_id)
        live[topic.id] = topic
    return sorted(live.values(), key=lambda topic: topic.name.casefold())


def names_of(session: Session, topic_ids: Iterable[int]) -> list[str]:
    """Topic names in name order, for "Picked for your topics: ..." lines."""
    ids = list(topic_ids)
    if not ids:
        return []
    rows = session.exec(select(Topic.name).where(col(Topic.id).in_(ids))).all()
    return sorted(rows, key=str.casefold)


def comparison_topics(session: Session, comparison_ids: Sequence[int]) -> dict[int, frozenset[int]]:
    """The live topics of each comparison: those of its tools' categories."""
    rows = session.exec(
        select(ComparisonTool.comparison_id, Tool.category)
        .join(Tool, col(Tool.id) == col(ComparisonTool.tool_id))
        .where(col(ComparisonTool.comparison_id).in_(list(comparison_ids)))
    ).all()
    mapping = {row.category: row.topic_id for row in session.exec(select(TopicCategory)).all()}
    live: dict[int, int] = {}
    found: dict[int, set[int]] = {cid: set() for cid in comparison_ids}
    for comparison_id, category in rows:
        topic_id = mapping.get(category_key(category))
        if topic_id is None:
            continue  # a category no import has mapped (written by hand): no topic
        if topic_id not in live:
            live[topic_id] = live_topic(session, topic_id).id or topic_id
        found[comparison_id].add(live[topic_id])
    return {cid: frozenset(ids) for cid, ids in found.items()}


def rename_topic(session: Session, ref: str, new_name: str) -> Topic:
    """Give a topic a new name; its slug, categories and readers stay."""
    topic = find_topic(session, ref)
    name = one_line(new_name)
    if not name or len(name) > MAX_NAME:
        problem = f"a topic name is 1 to {MAX_NAME} characters on one line"
        raise InvalidInput("topic name", [("name", problem)])
    holder = _holder_of_name(session, name)
    if holder is not None and holder.id != topic.id:
        live = _find_by_name(session, name)
        if holder.merged_into_id is not None and live is not None:
            raise Conflict(
                f"{holder.name!r} was merged into {live.name!r}; pick another name, or merge "
                f"into {live.name!r}"
            )
        raise Conflict(f"there is already a topic {holder.name!r}; merge into it instead")
    topic.name = name
    session.add(topic)
    session.flush()
    return topic


def merge_topics(session: Session, source_ref: str, target_ref: str) -> tuple[Topic, int]:
    """Merge `source` into `target`: its categories, and every reader who chose it, move over.

    Returns the target and how many readers' choices moved. The source stays as a tombstone
    (`merged_into_id`), so a form or an API client that still sends its slug gets the target.
    """
    source, target = find_topic(session, source_ref), find_topic(session, target_ref)
    if source.id == target.id:
        raise Conflict(f"{source.name!r} and {target.name!r} are the same topic")
    assert source.id is not None and target.id is not None
    session.execute(
        update(TopicCategory)
        .where(col(TopicCategory.topic_id) == source.id)
        .values(topic_id=target.id)
    )
    moved = _move_choices(session, source.id, target.id)
    source.merged_into_id = target.id
    session.add(source)
    session.flush()
    return target, moved


def _move_choices(session: Session, source_id: int, target_id: int) -> int:
    """Readers who chose the source now have the target (once), and never lose a choice."""
    chose_source = set(
        session.exec(
            select(SubscriberTopic.subscriber_id).where(SubscriberTopic.topic_id == source_id)
        ).all()
    )
    chose_target = set(
        session.exec(
            select(SubscriberTopic.subscriber_id).where(SubscriberTopic.topic_id == target_id)
        ).all()
    )
    rows = [{"subscriber_id": sid, "topic_id": target_id} for sid in chose_source - chose_target]
    if rows:
        session.execute(insert(SubscriberTopic), rows)
    session.execute(delete(SubscriberTopic).where(col(SubscriberTopic.topic_id) == source_id))
    return len(chose_source)


def topic_summaries(session: Session) -> list[tuple[Topic, list[str], int]]:
    """Each live topic with the category strings that map to it and how many readers chose it."""
    categories: dict[int, list[str]] = {}
    for row in session.exec(select(TopicCategory).order_by(col(TopicCategory.category))):
        categories.setdefault(row.topic_id, []).append(row.category)
    readers: dict[int, int] = {}
    for topic_id in session.exec(select(SubscriberTopic.topic_id)).all():
        readers[topic_id] = readers.get(topic_id, 0) + 1
    return [
        (topic, categories.get(topic.id or 0, []), readers.get(topic.id or 0, 0))
        for topic in list_topics(session)
    ]
