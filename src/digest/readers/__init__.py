"""Readers: subscribers, their opt-in and consent, their own data, and the mail only they get.

    subscriptions.py  the state machine: add, confirm, unsubscribe, resubscribe, rename,
                      suppress, purge; addresses normalised and hashed; the reader a link names
    signup.py         the public subscribe and "email me my link" requests: received (same
                      work for every address), then acted on after the answer
    defences.py       bot defences: honeypot, single-use form stamps, the canonical mailbox
    privacy.py        the consent record, "download my data" (with delivery history), erasure
    csv_io.py         CSV import (streamed, strict, all or nothing)
    csv_export.py     CSV export: plain rows a page at a time (flat memory), defused cells
    bulk.py           an import's rows written a chunk per statement in one transaction
    csv_columns.py    the columns of our export and of Mailchimp's, Substack's, Buttondown's
                      and listmonk's: address, name, and whether a reader left there
    mail_queue.py     transactional mail: queued with its cause, claimed, sent, retried, cancelled
    mail_compose.py   what the confirmation, "your link", data link and welcome emails say
    suppression.py    an editor's suppress and unsuppress (with a reason, for the audit log)
    topics.py         which topics a reader gets: every one, or those they ticked
    welcome.py        confirming, and the one welcome email that follows (once, or skipped)
    work.py           one round of the work after the answer: stored requests, then due mail

Rule: independent of `delivery/` (issues go out there); every function takes the session and
`now` and leaves the commit to the caller. Edges import the modules: `readers.signup`, ...
"""

from digest.readers import (
    bulk,
    csv_export,
    csv_io,
    defences,
    mail_compose,
    mail_queue,
    privacy,
    signup,
    subscriptions,
    suppression,
    topics,
    welcome,
    work,
)

__all__ = [
    "bulk",
    "csv_export",
    "csv_io",
    "defences",
    "mail_compose",
    "mail_queue",
    "privacy",
    "signup",
    "subscriptions",
    "suppression",
    "topics",
    "welcome",
    "work",
]
