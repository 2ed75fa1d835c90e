"""The editor's desk, below the edges: accounts, the audit log, review, send requests.

    audit.py     record_audit, recent_audit: who did what to which thing, and when
    accounts.py  editor accounts: add, remove, owner, password (argon2id), authenticate

Rule: every change an editor (or the CLI, or the scheduler) makes here writes its audit entry
in the same transaction; nothing in this package sends inside a web request, and transports
are passed in, never built.
"""

from digest.editors.accounts import (
    add_account,
    any_accounts,
    authenticate,
    count_owners,
    find_account,
    generate_password,
    list_accounts,
    normalise_email,
    record_failed_login,
    remove_account,
    set_owner,
    set_password,
)
from digest.editors.audit import recent_audit, record_audit

__all__ = [
    "add_account",
    "any_accounts",
    "authenticate",
    "count_owners",
    "find_account",
    "generate_password",
    "list_accounts",
    "normalise_email",
    "recent_audit",
    "record_audit",
    "record_failed_login",
    "remove_account",
    "set_owner",
    "set_password",
]
