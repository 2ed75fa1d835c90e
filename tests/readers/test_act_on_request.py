"""Acting on a stored subscribe request: a new reader is written in one statement, as the checks
after it would leave the row, and an address another request adds meanwhile is acted on like
any reader on file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.models import (
    ConsentRoute,
    MessageKind,
    MessageStatus,
    ReaderRequest,
    RequestKind,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
    metadata,
)
from digest.readers import signup, subscriptions
from tests.support.readers import NOW, subscribe_now
from tests.support.settings import make_test_settings

REQUEST = signup.SignupRequest(
    email="Ann@Example.com",
    name="Ann",
    route=ConsentRoute.API,
    ip="203.0.113.9",
    user_agent="Browser/1.0",
    click_consent=True,
)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL `engine` runs meanwhile."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def stored(engine: Engine) -> tuple[Subscriber, list[TransactionalMessage]]:
    with session_scope(engine, read_only=True) as session:
        reader = session.exec(select(Subscriber)).one()
        return reader, list(session.exec(select(TransactionalMessage)).all())


def test_a_new_reader_is_written_once_with_consent_and_confirmation_time(
    settings: Settings, engine: Engine
) -> None:
    later = NOW + timedelta(minutes=3)
    with session_scope(engine) as session:
        signup.receive_request(
            session,
            settings,
            signup.SignupRequest(**{**REQUEST.__dict__, "trusted": True}),
            RequestKind.SUBSCRIBE,
            now=NOW,
        )
    with session_scope(engine) as session, statements(engine) as seen:
        request = session.exec(select(ReaderRequest)).one()
        result = signup.act_on_request(session, settings, request, now=later)
    assert result.reason == "confirmation queued"
    writes = [s for s in seen if s.startswith(("INSERT INTO subscriber", "UPDATE subscriber"))]
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO subscriber")
    reader, messages = stored(engine)
    assert (reader.email, reader.name, reader.status) == (
        "ann@example.com",
        "Ann",
        SubscriberStatus.PENDING,
    )
    assert (reader.consent_route, reader.consent_at, reader.consent_ip) == (
        ConsentRoute.API,
        NOW,
        "203.0.113.9",
    )
    assert reader.pending_name == "Ann" and reader.pending_topics == "all"
    assert reader.pending_click_consent and reader.pending_consent_route == ConsentRoute.API
    assert (reader.pending_consent_at, reader.pending_consent_ip) == (NOW, "203.0.113.9")
    assert reader.pending_consent_user_agent == "Browser/1.0" == reader.consent_user_agent
    assert reader.confirm_sent_at == later and reader.created_at == NOW
    assert [(m.kind, m.status, m.subscriber_id) for m in messages] == [
        (MessageKind.CONFIRM, MessageStatus.PENDING, reader.id)
    ]


def test_insert_new_leaves_a_known_address_alone_and_the_transaction_usable(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        first = subscriptions.new_subscriber("b@example.com", route=ConsentRoute.CLI, now=NOW)
        added = subscriptions.insert_new(session, first)
        assert added is not None and added.id is not None
        again = subscriptions.new_subscriber("B@example.com", route=ConsentRoute.FORM, now=NOW)
        assert subscriptions.insert_new(session, again) is None
        assert subscriptions.find_by_email(session, "b@example.com") is added
    reader, _ = stored(engine)
    assert reader.consent_route == ConsentRoute.CLI


def test_an_address_added_meanwhile_is_acted_on_as_one_on_file(
    postgres_url: str, tmp_path: Path
) -> None:
    """Another request adds (and commits) the same address between this one's look-up and its
    insert: no error, and the reader on file gets what any known pending reader gets."""
    settings = make_test_settings(tmp_path, postgres_url)
    engine, elsewhere = make_engine(postgres_url), make_engine(postgres_url)
    metadata.create_all(engine)
    try:
        added: list[int | None] = []

        def add_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().startswith("INSERT INTO subscriber") and not added:
                with session_scope(elsewhere) as session:
                    first = subscriptions.add_subscriber(
                        session, "ann@example.com", route=ConsentRoute.FORM, now=NOW
                    )
                    added.append(first.id)

        event.listen(engine, "before_cursor_execute", add_first)
        try:
            with session_scope(engine) as session:
                result = subscribe_now(session, settings, REQUEST, now=NOW)
        finally:
            event.remove(engine, "before_cursor_execute", add_first)
        assert result.reason == "confirmation queued"
        reader, messages = stored(engine)
        # The row is the other request's; this one's consent waits for the confirmation.
        assert reader.consent_route == ConsentRoute.FORM and reader.name is None
        assert reader.pending_consent_route == ConsentRoute.API and reader.pending_name == "Ann"
        assert reader.id == added[0] and reader.confirm_sent_at == NOW
        assert [m.kind for m in messages] == [MessageKind.CONFIRM]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM subscriber")).scalar() == 1
    finally:
        engine.dispose()
        elsewhere.dispose()
