"""Editor accounts on both engines: argon2 hashes, the last owner kept, hostile addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import editors, sessions
from digest.db import session_scope
from digest.errors import Conflict, InvalidInput, NotFound
from digest.models import EditorSession

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
GOOD = "a long enough password"


def add(engine: Engine, email: str, *, owner: bool = False) -> None:
    with session_scope(engine) as session:
        editors.add_account(session, email, GOOD, owner=owner, actor="cli:test", now=NOW)


def test_the_password_is_hashed_and_checked(engine: Engine) -> None:
    add(engine, " Ed@Example.COM ", owner=True)
    with session_scope(engine, read_only=True) as session:
        (account,) = editors.list_accounts(session)
        assert account.email == "ed@example.com" and account.owner
        assert GOOD not in account.password_hash and account.password_hash.startswith("$argon2id$")
        assert editors.authenticate(session, "ED@example.com", GOOD) is not None
        assert editors.authenticate(session, "ed@example.com", GOOD + "x") is None
        assert editors.authenticate(session, "nobody@example.com", GOOD) is None
        assert editors.authenticate(session, "not an address", GOOD) is None
        assert [e.action for e in editors.recent_audit(session)] == ["account-add"]


def test_duplicates_short_passwords_and_hostile_addresses_are_refused(engine: Engine) -> None:
    add(engine, "ed@example.com")
    with pytest.raises(Conflict):
        add(engine, "ED@example.com")
    with session_scope(engine) as session:
        for hostile in ("ed@example.com\r\nBcc: all@example.com", "\x1b]8;;x\x07a@example.com"):
            with pytest.raises(InvalidInput):
                editors.add_account(session, hostile, GOOD, owner=False, actor="t", now=NOW)
        with pytest.raises(InvalidInput, match="at least 12"):
            editors.add_account(
                session, "short@example.com", "short", owner=False, actor="t", now=NOW
            )
    with session_scope(engine, read_only=True) as session:
        assert [a.email for a in editors.list_accounts(session)] == ["ed@example.com"]


def test_the_last_owner_stays(engine: Engine) -> None:
    add(engine, "owner@example.com", owner=True)
    add(engine, "ed@example.com")
    with session_scope(engine) as session:
        with pytest.raises(Conflict, match="last owner"):
            editors.remove_account(session, "owner@example.com", actor="t", now=NOW)
        with pytest.raises(Conflict, match="last owner"):
            editors.set_owner(session, "owner@example.com", False, actor="t", now=NOW)
        with pytest.raises(NotFound):
            editors.remove_account(session, "ghost@example.com", actor="t", now=NOW)
    with session_scope(engine) as session:
        editors.set_owner(session, "ed@example.com", True, actor="t", now=NOW)
    with session_scope(engine) as session:
        editors.remove_account(session, "owner@example.com", actor="t", now=NOW)
    with session_scope(engine, read_only=True) as session:
        (left,) = editors.list_accounts(session)
    assert left.email == "ed@example.com" and left.owner


def test_a_new_password_or_removal_ends_the_sessions(engine: Engine) -> None:
    add(engine, "ed@example.com", owner=True)
    add(engine, "b@example.com")
    with session_scope(engine) as session:
        ed = editors.find_account(session, "ed@example.com")
        b = editors.find_account(session, "b@example.com")
        ids = [
            sessions.start_session(session, account_id=who.id, lifetime=HOUR, now=NOW)
            for who in (ed, b)
        ]
    with session_scope(engine) as session:
        editors.set_password(session, "ed@example.com", GOOD + "!", actor="t", now=NOW)
        editors.remove_account(session, "b@example.com", actor="t", now=NOW)
    with session_scope(engine, read_only=True) as session:
        assert not any(sessions.session_active(session, i, now=NOW) for i in ids)
        assert len(session.exec(select(EditorSession)).all()) == 0
        assert editors.authenticate(session, "ed@example.com", GOOD + "!") is not None
