"""Mailboxes as they go on the wire: a display name and an address whose domain is IDNA.

We never hand an address to the email package to parse (it decodes encoded-words in display
names) and never send SMTPUTF8: an internationalised domain is written as punycode
(`bücher.example` -> `xn--bcher-kva.example`), and an address that cannot be written in ASCII
at all (a non-ASCII local part) is refused with a reason, for that recipient alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import idna

from digest.text import one_line

# RFC 5322 dot-atom text: what our own (validated) addresses look like before the "@".
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_ASCII_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_ANGLE = re.compile(r"(?P<display>.*)<(?P<address>[^<>]*)>\s*", re.DOTALL)


class AddressError(ValueError):
    """An address we cannot write on the wire; the message says why, for the operator."""


@dataclass(frozen=True)
class Mailbox:
    display: str  # "" when there is none
    address: str  # ASCII: local@punycode-domain


def parse_mailbox(value: str) -> Mailbox:
    """`Name <local@domain>` or `local@domain`, as our settings and our store hold them."""
    match = _ANGLE.fullmatch(value.strip())
    if match is None:
        return Mailbox("", ascii_address(value))
    display = one_line(match["display"])
    if len(display) >= 2 and display[0] == display[-1] == '"':
        display = re.sub(r"\\(.)", r"\1", display[1:-1])
    return Mailbox(display.strip(), ascii_address(match["address"]))


def ascii_address(address: str) -> str:
    """`address` with its domain in IDNA form; AddressError if it cannot be written in ASCII."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"not an email address: {_shown(address)}")
    if not local.isascii():
        raise AddressError(
            f"{_shown(address)} has a non-ASCII local part (it would need SMTPUTF8, "
            "which we do not send)"
        )
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise AddressError(f"not an address we can send to: {_shown(address)}")
    if "=?" in local:  # lenient parsers (Python's) decode an encoded-word even in an address
        raise AddressError(f"{_shown(address)} looks like an RFC 2047 encoded-word")
    return f"{local}@{ascii_domain(domain)}"


def ascii_domain(domain: str) -> str:
    """A domain name in its ASCII (IDNA 2008 / UTS 46) form, lower case."""
    try:
        ascii_form = domain if domain.isascii() else idna.encode(domain, uts46=True).decode()
    except idna.IDNAError as exc:
        raise AddressError(f"not a domain name: {_shown(domain)} ({exc})") from None
    labels = ascii_form.lower().split(".")
    if len(ascii_form) > 253 or not all(_ASCII_LABEL.fullmatch(label) for label in labels):
        raise AddressError(f"not a domain name: {_shown(domain)}")
    return ".".join(labels)


def sending_domain(from_email: str) -> str:
    """The ASCII domain of the sender's address: Message-IDs and List-Id live under it."""
    return parse_mailbox(from_email).address.rpartition("@")[2]


def _shown(value: str) -> str:
    """A hostile value, safe to put in an error message (one line, no controls, bounded)."""
    return repr(one_line(value)[:120])
