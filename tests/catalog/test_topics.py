"""Topics from tool categories: born on import, renamed, merged; nothing a reader chose is lost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import catalog
from digest.db import session_scope
from digest.errors import Conflict, InvalidInput, NotFound
from digest.models import SubscriberTopic, Topic
from digest.readers import topics
from tests.support.issue_data import comparison_doc, import_docs
from tests.support.readers import add

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def names(engine: Engine) -> list[str]:
    with session_scope(engine, read_only=True) as session:
        return [topic.name for topic in catalog.list_topics(session)]


def slugs(engine: Engine, *refs: str) -> list[str]:
    with session_scope(engine, read_only=True) as session:
        return [topic.slug for topic in catalog.resolve_slugs(session, list(refs))]


def test_an_import_makes_a_topic_of_every_new_category(engine: Engine) -> None:
    docs = [
        comparison_doc(1, NOW, categories=("Developer Tools", "Design")),
        comparison_doc(2, NOW, categories=("developer  TOOLS", "Data & Analytics")),
    ]
    docs[1]["tools"][1].pop("category")
    import_docs(engine, docs, now=NOW)
    import_docs(engine, docs, now=NOW)  # again: nothing new
    assert names(engine) == ["Design", "Developer Tools", "Other"]
    with session_scope(engine, read_only=True) as session:
        all_slugs = sorted(t.slug for t in session.exec(select(Topic)))
        by_comparison = catalog.comparison_topics(session, [1, 2])
        ids = {t.name: t.id for t in catalog.list_topics(session)}
    assert all_slugs == ["design", "developer-tools", "other"]
    assert by_comparison == {
        1: {ids["Developer Tools"], ids["Design"]},
        2: {ids["Developer Tools"], ids["Other"]},
    }


def test_rename_keeps_the_slug_and_the_old_category(engine: Engine) -> None:
    import_docs(engine, [comparison_doc(1, NOW, categories=("Developer Tools", "Design"))], now=NOW)
    with session_scope(engine) as session:
        renamed = catalog.rename_topic(session, "developer-tools", "  Dev\ntools ")
    assert (renamed.name, renamed.slug) == ("Dev tools", "developer-tools")
    import_docs(engine, [comparison_doc(2, NOW)], now=NOW)  # still says "Developer Tools"
    assert names(engine) == ["Design", "Dev tools"]
    with session_scope(engine) as session, pytest.raises(Conflict, match="merge"):
        catalog.rename_topic(session, "design", "dev TOOLS")
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="1 to 120"):
        catalog.rename_topic(session, "Design", "x" * 121)
    with session_scope(engine) as session, pytest.raises(NotFound, match="no topic 'nope'"):
        catalog.rename_topic(session, "nope", "Whatever")


def test_merge_moves_categories_and_choices_and_old_slugs_resolve(engine: Engine) -> None:
    import_docs(engine, [comparison_doc(1, NOW, categories=("Design", "UX Design"))], now=NOW)
    both, only_old, only_new = (add(engine, f"{n}@example.com") for n in ("both", "old", "new"))
    with session_scope(engine) as session:
        for reader, chosen in ((both, ["design", "ux-design"]), (only_old, ["ux-design"])):
            topics.store_choice(session, reader, topics.choose(session, chosen, every=False))
        topics.store_choice(session, only_new, topics.choose(session, ["design"], every=False))
        target, moved = catalog.merge_topics(session, "UX Design", "design")
    assert (target.name, moved) == ("Design", 2)
    assert names(engine) == ["Design"]
    assert slugs(engine, "ux-design") == ["design"]  # an old form still works
    import_docs(engine, [comparison_doc(2, NOW, categories=("UX Design", "UX Design"))], now=NOW)
    assert names(engine) == ["Design"]
    with session_scope(engine, read_only=True) as session:
        rows = sorted(
            (row.subscriber_id, row.topic_id) for row in session.exec(select(SubscriberTopic))
        )
        assert catalog.comparison_topics(session, [2]) == {2: {target.id}}
    assert rows == sorted((reader, target.id) for reader in (both, only_old, only_new))
    with session_scope(engine) as session, pytest.raises(Conflict, match="same topic"):
        catalog.merge_topics(session, "ux-design", "Design")


def test_unknown_slugs_are_named(engine: Engine) -> None:
    import_docs(engine, [comparison_doc(1, NOW)], now=NOW)
    with pytest.raises(InvalidInput) as info:
        slugs(engine, "developer-tools", "<script>", "gone")
    assert "'<script>', 'gone'" in info.value.message and "pick from the list" in info.value.message


def test_a_merged_topics_name_stays_taken_and_new_categories_of_it_follow_the_merge(
    engine: Engine,
) -> None:
    import_docs(engine, [comparison_doc(1, NOW, categories=("Design", "Video"))], now=NOW)
    with session_scope(engine) as session:
        catalog.rename_topic(session, "design", "Visual")
        catalog.merge_topics(session, "visual", "video")
    import_docs(engine, [comparison_doc(2, NOW, categories=("visual", "VISUAL"))], now=NOW)
    assert names(engine) == ["Video"]
    with session_scope(engine) as session, pytest.raises(Conflict, match="was merged into 'Video'"):
        catalog.rename_topic(session, "video", "visual")
    assert names(engine) == ["Video"]
