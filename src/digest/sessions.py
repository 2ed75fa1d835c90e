"""Editor sessions in the store: started at login, checked on every editor request, ended at
logout (server-side: a copied cookie dies with it) or when they expire.

The cookie carries a random id; the store keeps only its sha256, so a leaked database holds
no usable session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col

from digest.models import EditorSession


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


def start_session(
    session: Session, *, lifetime: timedelta, now: datetime, account_id: int | None = None
) -> str:
    """A new session's id (for the cookie), for an editor account or (None) the shared
    password; expired sessions are swept on the way."""
    session.execute(delete(EditorSession).where(col(EditorSession.expires_at) <= now))
    session_id = secrets.token_urlsafe(32)
    row = EditorSession(
        id_hash=_hash(session_id), created_at=now, expires_at=now + lifetime, account_id=account_id
    )
    session.add(row)
    session.flush()
    return session_id


def session_active(session: Session, session_id: str, *, now: datetime) -> bool:
    return find_session(session, session_id, now=now) is not None


def find_session(session: Session, session_id: str, *, now: datetime) -> EditorSession | None:
    """The session's row while it is active (its `account_id` says who is logged in)."""
    found = session.get(EditorSession, _hash(session_id))
    return found if found is not None and found.expires_at > now else None


def end_session(session: Session, session_id: str) -> None:
    """Revoke the session (nothing happens if it is unknown or already ended)."""
    session.execute(delete(EditorSession).where(col(EditorSession.id_hash) == _hash(session_id)))
