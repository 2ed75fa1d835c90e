"""The editor's desk, below the edges: accounts, the audit log, review, send requests.

    audit.py     record_audit, recent_audit: who did what to which thing, and when

Rule: every change an editor (or the CLI, or the scheduler) makes here writes its audit entry
in the same transaction; nothing in this package sends inside a web request, and transports
are passed in, never built.
"""

from digest.editors.audit import recent_audit, record_audit

__all__ = [
    "recent_audit",
    "record_audit",
]
