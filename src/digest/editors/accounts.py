"""Editor accounts: an address, an argon2id password hash, and whether the editor is an owner.

Owners manage accounts; the last owner can be neither removed nor demoted, so the desk can
never lock itself out. `authenticate` spends the same work on an unknown address as on a known
one (it verifies against a dummy hash), so neither the answer nor its timing says which
addresses have accounts. Every change writes an audit entry in the same transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digest.editors.audit import record_audit
from digest.errors import Conflict, InvalidInput, NotFound
from digest.models import EditorAccount, EditorSession

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes any length; a megabyte of "password" is only a cost to us
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """What an unknown address's password is checked against, so it costs the same argon2
    work as a known one. Made on first use: hashing at import added ~1 s to every command."""
    return _hasher.hash(secrets.token_urlsafe(16))


def normalise_email(raw: str) -> str:
    """A syntactically valid address, lower-cased (no DNS); InvalidInput otherwise. Line breaks
    and control characters never pass: the address ends up in mail headers and the audit log."""
    try:
        address = validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput("editor address", [("email", str(exc))]) from None
    return str(address).lower()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        problem = f"at least {MIN_PASSWORD} characters (got {len(password)})"
        raise InvalidInput("password", [("password", problem)])
    if len(password) > MAX_PASSWORD:
        raise InvalidInput("password", [("password", f"at most {MAX_PASSWORD} characters")])


def generate_password() -> str:
    """A random password of 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)


def list_accounts(session: Session) -> list[EditorAccount]:
    return list(session.exec(select(EditorAccount).order_by(col(EditorAccount.email))).all())


def any_accounts(session: Session) -> bool:
    return session.exec(select(EditorAccount.id).limit(1)).first() is not None


def find_account(session: Session, email: str) -> EditorAccount:
    account = session.exec(select(EditorAccount).where(EditorAccount.email == email)).first()
    if account is None:
        raise NotFound(f"there is no editor account {email}")
    return account


def add_account(
    session: Session, email: str, password: str, *, owner: bool, actor: str, now: datetime
) -> EditorAccount:
    address = normalise_email(email)
    check_password(password)
    account = EditorAccount(
        email=address, password_hash=_hasher.hash(password), owner=owner, created_at=now
    )
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:
        raise Conflict(f"an editor account {address} already exists") from None
    record_audit(session, actor, "account-add", f"editor {address}", _role(owner), now=now)
    return account


def remove_account(session: Session, email: str, *, actor: str, now: datetime) -> None:
    """Remove the account and end its sessions; never the last owner."""
    account = find_account(session, normalise_email(email))
    if account.owner:
        _keep_an_owner(session, account)
    session.execute(delete(EditorSession).where(col(EditorSession.account_id) == account.id))
    session.delete(account)
    record_audit(session, actor, "account-remove", f"editor {account.email}", now=now)
    session.flush()


def set_owner(
    session: Session, email: str, owner: bool, *, actor: str, now: datetime
) -> EditorAccount:
    account = find_account(session, normalise_email(email))
    if account.owner and not owner:
        _keep_an_owner(session, account)
    account.owner = owner
    session.add(account)
    record_audit(session, actor, "account-owner", f"editor {account.email}", _role(owner), now=now)
    return account


def set_password(
    session: Session, email: str, password: str, *, actor: str, now: datetime
) -> EditorAccount:
    """A new password; the account's sessions end (a stolen one dies with the old password)."""
    account = find_account(session, normalise_email(email))
    check_password(password)
    account.password_hash = _hasher.hash(password)
    session.add(account)
    session.execute(delete(EditorSession).where(col(EditorSession.account_id) == account.id))
    record_audit(session, actor, "account-passwd", f"editor {account.email}", now=now)
    return account


def _keep_an_owner(session: Session, account: EditorAccount) -> None:
    """Refuse when `account` is the last owner; the owners' rows are locked first, so two
    owners removing each other at once cannot both succeed (PostgreSQL; SQLite writes one at
    a time anyway)."""
    owners = session.exec(
        select(EditorAccount.id).where(col(EditorAccount.owner).is_(True)).with_for_update()
    ).all()
    if len(owners) <= 1:
        raise Conflict(f"{account.email} is the last owner; make another editor an owner first")


def authenticate(session: Session, email: str, password: str) -> EditorAccount | None:
    """The account when the address and password match; None otherwise, after the same work."""
    try:
        address = normalise_email(email)
    except InvalidInput:
        address = ""
    account = None
    if address and len(password) <= MAX_PASSWORD:
        account = session.exec(select(EditorAccount).where(EditorAccount.email == address)).first()
    if not _verify(account.password_hash if account else _dummy_hash(), password[:MAX_PASSWORD]):
        return None
    return account


def record_failed_login(session: Session, email: str, *, now: datetime) -> None:
    """Audit a failed login on an existing account (unknown addresses are not logged: anyone
    on the internet can make those up, and the throttle counts them anyway)."""
    try:
        address = normalise_email(email)
    except InvalidInput:
        return
    found = session.exec(select(EditorAccount.id).where(EditorAccount.email == address)).first()
    if found is not None:
        record_audit(session, address, "login-failed", f"editor {address}", now=now)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def count_owners(session: Session) -> int:
    query = select(func.count()).where(col(EditorAccount.owner).is_(True))
    return int(session.exec(query.select_from(EditorAccount)).one())


def _role(owner: bool) -> str:
    return "owner" if owner else "editor"
