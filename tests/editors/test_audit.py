"""The audit log on both engines: entries commit with their change, newest first, paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from digest.db import session_scope
from digest.editors import recent_audit, record_audit

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def test_entries_are_newest_first_paged_and_filtered(engine: Engine) -> None:
    with session_scope(engine) as session:
        for n in range(5):
            record_audit(
                session,
                "ed@example.com",
                "approve",
                f"issue {n % 2}",
                "ok",
                now=NOW + timedelta(minutes=n),
            )
    with session_scope(engine, read_only=True) as session:
        first = recent_audit(session, 2)
        second = recent_audit(session, 2, before_id=first[-1].id)
        of_one = recent_audit(session, 10, target="issue 1")
    assert [e.at for e in first] == [NOW + timedelta(minutes=4), NOW + timedelta(minutes=3)]
    assert [e.at for e in second] == [NOW + timedelta(minutes=2), NOW + timedelta(minutes=1)]
    assert [e.target for e in of_one] == ["issue 1", "issue 1"]
    assert first[0].at.tzinfo is not None


def test_an_entry_rolls_back_with_its_change(engine: Engine) -> None:
    try:
        with session_scope(engine) as session:
            record_audit(session, "cli:ann", "erase", "reader 4", now=NOW)
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    with session_scope(engine, read_only=True) as session:
        assert recent_audit(session) == []


def test_outside_text_is_stored_without_controls_and_cut(engine: Engine) -> None:
    with session_scope(engine) as session:
        record_audit(
            session,
            "ed\x1b[31m@example.com",
            "suppress",
            "reader 1",
            "why\r\nBcc: x" + "y" * 2000,
            now=NOW,
        )
    with session_scope(engine, read_only=True) as session:
        (entry,) = recent_audit(session)
    assert "\x1b" not in entry.actor and "\n" not in entry.detail and "\r" not in entry.detail
    assert len(entry.detail) == 1000
