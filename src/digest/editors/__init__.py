"""The editor's desk, below the edges: accounts, the audit log, review, send requests.

    audit.py     record_audit, recent_audit: who did what to which thing, and when
    accounts.py  editor accounts: add, remove, owner, password (argon2id), authenticate
    review.py    approve / hold the next issue (frozen with its content hash), edits that
                 withdraw the approval, and whether the scheduled run may send (review_state)
    requests.py  send now / resume as requests in the store, claimed by one process; pause
    reminder.py  the "ready for review" email to DIGEST_EDITOR_EMAILS, once per issue

Rule: every change an editor (or the CLI, or the scheduler) makes here writes its audit entry
in the same transaction; nothing in this package sends inside a web request, and transports
are passed in, never built.
"""

from digest.editors.accounts import (
    MIN_PASSWORD,
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
from digest.editors.reminder import send_review_reminder
from digest.editors.requests import (
    Requested,
    claim_request,
    open_requests,
    pause_send,
    process_requests,
    request_resume,
    request_send,
)
from digest.editors.review import (
    ReviewState,
    approve_issue,
    approved_awaiting_run,
    content_hash,
    edit_issue,
    hold_issue,
    review_state,
    waiting_for_review,
)

__all__ = [
    "MIN_PASSWORD",
    "Requested",
    "ReviewState",
    "add_account",
    "any_accounts",
    "approve_issue",
    "approved_awaiting_run",
    "authenticate",
    "claim_request",
    "content_hash",
    "count_owners",
    "edit_issue",
    "find_account",
    "generate_password",
    "hold_issue",
    "list_accounts",
    "normalise_email",
    "open_requests",
    "pause_send",
    "process_requests",
    "recent_audit",
    "record_audit",
    "record_failed_login",
    "remove_account",
    "request_resume",
    "request_send",
    "review_state",
    "send_review_reminder",
    "set_owner",
    "set_password",
    "waiting_for_review",
]
