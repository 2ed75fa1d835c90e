"""Which columns of a subscriber CSV hold the address, the name and the reader's standing.

Lists arrive as the exports of the tools people leave: Mailchimp (`Email Address`, `First Name`,
`Last Name`; `UNSUB_TIME`/`CLEAN_TIME` in its unsubscribed and cleaned exports), Substack
(`email`, `email_disabled`), Buttondown (`email` or `email_address`, `subscriber_type`),
listmonk (`email`, `name`, `status`), and our own export (`email`, `name`, `status`). Headers are
matched case- and punctuation-insensitively. A row the export marks as gone (unsubscribed,
cleaned, blocklisted, disabled) is never imported; one marked as never confirmed is only
imported to be asked for confirmation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from digest.errors import InvalidInput

EMAIL_HEADERS = ("email", "email_address", "e_mail", "e_mail_address", "emailaddress", "mail")
NAME_HEADERS = ("name", "full_name", "fullname", "display_name")
FIRST_NAME_HEADERS = ("first_name", "firstname", "fname", "given_name")
LAST_NAME_HEADERS = ("last_name", "lastname", "lname", "family_name", "surname")
STATUS_HEADERS = ("status", "subscriber_type", "type")
# Mailchimp: a time in one of these columns means the reader left (or bounced) there.
LEFT_WHEN_SET = {"unsub_time": "unsubscribed", "clean_time": "cleaned (bounced)"}
TRUE = {"true", "yes", "1", "y"}
LEFT_STATUSES = {
    "unsubscribed",
    "blocklisted",
    "blacklisted",
    "blocked",
    "bounced",
    "cleaned",
    "complained",
    "disabled",
    "removed",
    "spammy",
    "suppressed",
    "undeliverable",
    "erased",
}
UNCONFIRMED_STATUSES = {"pending", "unconfirmed", "unactivated"}
READ_KEYS = {
    *EMAIL_HEADERS,
    *NAME_HEADERS,
    *FIRST_NAME_HEADERS,
    *LAST_NAME_HEADERS,
    *STATUS_HEADERS,
    *LEFT_WHEN_SET,
    "email_disabled",
}


@dataclass(frozen=True)
class Standing:
    """What the old list said about a reader: gone (why), or not yet confirmed."""

    left: str | None = None
    unconfirmed: bool = False


@dataclass(frozen=True)
class Columns:
    """Header names, as written in the file, of the columns we read."""

    email: str
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    status: str | None = None
    email_disabled: str | None = None
    left_when_set: tuple[tuple[str, str], ...] = ()

    def name_of(self, record: Mapping[str | None, object]) -> str | None:
        if self.name is not None:
            return _text(record, self.name) or None
        parts = [_text(record, column) for column in (self.first_name, self.last_name) if column]
        return " ".join(part for part in parts if part) or None

    def standing(self, record: Mapping[str | None, object]) -> Standing:
        for column, reason in self.left_when_set:
            if _text(record, column):
                return Standing(left=reason)
        if self.email_disabled and _text(record, self.email_disabled).lower() in TRUE:
            return Standing(left="email disabled")
        status = _text(record, self.status).lower() if self.status else ""
        if status in LEFT_STATUSES:
            return Standing(left=status)
        return Standing(unconfirmed=status in UNCONFIRMED_STATUSES)


def find_columns(source: str, fieldnames: Sequence[str | None] | None) -> Columns:
    """The columns to read, from the header row; InvalidInput when there is no address column."""
    by_key: dict[str, str] = {}
    for raw in fieldnames or []:
        key = header_key(raw or "")
        if key in by_key and key in READ_KEYS:
            problem = f"the header names the column {(raw or '').strip()!r} twice"
            raise InvalidInput(source, [("line 1", problem)])
        by_key.setdefault(key, raw or "")
    addresses = [by_key[key] for key in EMAIL_HEADERS if key in by_key]
    if len(addresses) > 1:
        problem = f"the header has two address columns ({addresses[0]!r}, {addresses[1]!r})"
        raise InvalidInput(source, [("line 1", problem + "; keep one")])
    email = _first(by_key, EMAIL_HEADERS)
    if email is None:
        problem = (
            "the header needs an email column ('email', or 'Email Address' as Mailchimp writes it)"
        )
        raise InvalidInput(source, [("line 1", problem)])
    return Columns(
        email=email,
        name=_first(by_key, NAME_HEADERS),
        first_name=_first(by_key, FIRST_NAME_HEADERS),
        last_name=_first(by_key, LAST_NAME_HEADERS),
        status=_first(by_key, STATUS_HEADERS),
        email_disabled=by_key.get("email_disabled"),
        left_when_set=tuple((by_key[k], why) for k, why in LEFT_WHEN_SET.items() if k in by_key),
    )


def header_key(header: str) -> str:
    """ "Email Address", "email_address" and "E-Mail-Address" are one key."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def _first(by_key: Mapping[str, str], keys: Sequence[str]) -> str | None:
    return next((by_key[key] for key in keys if key in by_key), None)


def _text(record: Mapping[str | None, object], column: str) -> str:
    value = record.get(column)
    return value.strip() if isinstance(value, str) else ""
