"""A reader's topics: chosen at signup (kept aside until the owner confirms), changed later,
exported and erased; bad choices are refused by name and change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import catalog
from digest.config import Settings
from digest.db import session_scope
from digest.errors import Conflict, InvalidInput
from digest.models import ConsentRoute, ReaderRequest, RequestKind
from digest.readers import privacy, signup, subscriptions, topics
from digest.transports import make_transport
from tests.support.issue_data import comparison_doc, import_docs
from tests.support.readers import NOW, subscribe_now

CATEGORIES = ("Developer Tools", "Design")


@pytest.fixture
def catalog_topics(engine: Engine) -> None:
    import_docs(engine, [comparison_doc(1, NOW, categories=CATEGORIES)], now=NOW)
    import_docs(engine, [comparison_doc(2, NOW, categories=("Video", "Video"))], now=NOW)


def ask(
    engine: Engine, settings: Settings, email: str, *chosen: str, now: datetime = NOW
) -> int | None:
    request = signup.SignupRequest(email=email, route=ConsentRoute.API, topics=chosen)
    with session_scope(engine) as session:
        subscribe_now(session, settings, request, now=now)
        found = subscriptions.find_by_email(session, email)
        return found.id if found else None


def names(engine: Engine, reader: int) -> list[str] | str:
    with session_scope(engine, read_only=True) as session:
        return topics.export_topics(session, reader)


def confirm(engine: Engine, reader: int, *, now: datetime = NOW) -> None:
    with session_scope(engine) as session:
        subscriptions.confirm_subscriber(session, reader, now=now)


@pytest.mark.usefixtures("catalog_topics")
def test_signup_topics_apply_on_confirmation(engine: Engine, settings: Settings) -> None:
    reader = ask(engine, settings, "ann@example.com", "design", "video", "design")
    assert reader is not None
    assert names(engine, reader) == "all"  # nobody has proven they own the mailbox yet
    confirm(engine, reader)
    assert names(engine, reader) == ["Design", "Video"]
    everyone = ask(engine, settings, "bob@example.com")
    assert everyone is not None
    confirm(engine, everyone)
    assert names(engine, everyone) == "all"


@pytest.mark.usefixtures("catalog_topics")
def test_strangers_cannot_change_a_readers_topics(engine: Engine, settings: Settings) -> None:
    reader = ask(engine, settings, "ann@example.com", "design")
    assert reader is not None
    confirm(engine, reader)
    ask(engine, settings, "ann@example.com", "video", now=NOW + timedelta(days=1))
    assert names(engine, reader) == ["Design"]  # confirmed: the request changes nothing
    with session_scope(engine) as session:
        subscriptions.unsubscribe_subscriber(session, reader, now=NOW)
    ask(engine, settings, "ann@example.com", "video", now=NOW + timedelta(days=2))
    assert names(engine, reader) == ["Design"]  # kept aside until the owner confirms
    confirm(engine, reader, now=NOW + timedelta(days=2))
    assert names(engine, reader) == ["Video"]


@pytest.mark.usefixtures("catalog_topics")
def test_bad_choices_are_refused_and_change_nothing(engine: Engine, settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="'removed'"):
        ask(engine, settings, "ann@example.com", "design", "removed")
    with session_scope(engine, read_only=True) as session:
        assert subscriptions.find_by_email(session, "ann@example.com") is None
    reader = ask(engine, settings, "ann@example.com", "design")
    assert reader is not None
    confirm(engine, reader)
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="at least one"):
        topics.choose(session, [], every=False)
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="at most 100"):
        topics.choose(session, ["design"] * 101, every=False)
    assert names(engine, reader) == ["Design"]


@pytest.mark.usefixtures("catalog_topics")
def test_change_export_and_erase(engine: Engine, settings: Settings) -> None:
    reader = ask(engine, settings, "ann@example.com", "design")
    assert reader is not None
    confirm(engine, reader)
    with session_scope(engine) as session:
        choice = topics.choose(session, ["video", "developer-tools"], every=False)
        subscriptions.change_topics(session, reader, choice=choice)
        exported = privacy.export_subscriber(session, reader)
    assert exported["topics"] == ["Developer Tools", "Video"]
    with session_scope(engine) as session:
        subscriptions.change_topics(session, reader, choice=topics.TopicChoice())
    assert names(engine, reader) == "all"
    with session_scope(engine) as session:
        subscriptions.change_topics(session, reader, choice=choice)
        privacy.erase_subscriber(session, reader, now=NOW)
    assert names(engine, reader) == "all"  # nothing kept
    with session_scope(engine) as session, pytest.raises(Conflict, match="erased"):
        subscriptions.change_topics(session, reader, choice=choice)


@pytest.mark.usefixtures("catalog_topics")
def test_topics_travel_with_the_stored_request(engine: Engine, settings: Settings) -> None:
    """The web edge only stores a request; its topics go with it and, once it is acted on,
    wait as the reader's pending topics until the owner confirms. A topic merged meanwhile
    gives its successor."""
    request = signup.SignupRequest(
        email="ann@example.com", route=ConsentRoute.API, topics=("design", "video"), trusted=True
    )
    with session_scope(engine) as session:
        signup.receive_request(session, settings, request, RequestKind.SUBSCRIBE, now=NOW)
    with session_scope(engine, read_only=True) as session:
        [stored] = session.exec(select(ReaderRequest)).all()
        assert stored.topics is not None and stored.topics != topics.EVERY
        assert subscriptions.find_by_email(session, "ann@example.com") is None  # not yet
    with session_scope(engine) as session:
        catalog.merge_topics(session, "video", "design")
    acted = signup.process_requests(
        engine, settings, transport=make_transport(settings), now=NOW + timedelta(seconds=1)
    )
    assert acted == 1
    reader = ask_id(engine, "ann@example.com")
    assert names(engine, reader) == "all"  # nobody has proven they own the mailbox yet
    confirm(engine, reader)
    assert names(engine, reader) == ["Design"]


def ask_id(engine: Engine, email: str) -> int:
    with session_scope(engine, read_only=True) as session:
        found = subscriptions.find_by_email(session, email)
        assert found is not None and found.id is not None
        return found.id
