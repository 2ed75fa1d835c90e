"""The standard reports: delivery status notifications (RFC 3464) and ARF feedback (RFC 5965)."""

from __future__ import annotations

import re
from email.message import Message

from digest.bounces.kinds import BounceKind, Finding
from digest.bounces.mail import (
    content_type,
    field_blocks,
    header,
    originals,
    parts,
    text_of,
)
from digest.bounces.patterns import judge, status_in

DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
NOT_FAILED = ("delivered", "relayed", "expanded")
# Feedback types that are a reader's complaint (RFC 5965 abuse, fraud, virus, other; RFC 6650
# lists opt-out as an unsubscribe request). auth-failure and not-spam are not about a reader.
COMPLAINTS = frozenset({"abuse", "fraud", "virus", "other", "opt-out", "complaint"})
ADDRESS = re.compile(r"[a-z0-9._%+=/'-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}", re.I)


def first_address(text: str) -> str | None:
    match = ADDRESS.search(text[:4000])
    return match.group(0).lower() if match else None


# Where a report's own words end and a dump of the original's headers begins.
ORIGINAL_STARTS = re.compile(
    r"^\s*-{2,}.{0,40}(?:original|copy of the message|below this line|returned message|"
    r"message headers?|undelivered message)|^(?:return-path|received):|"
    r"^\s*original message headers",
    re.I | re.M,
)
# Header lines some reports copy into their text (anti-spam verdicts, signatures): not words.
HEADER_LINE = re.compile(
    r"^\s*(?:x-[\w-]{1,80}|dkim-signature|arc-[\w-]{1,40}|authentication-results|"
    r"received-spf|list-unsubscribe[\w-]*):.*$",
    re.I | re.M,
)


def report_words(text: str) -> str:
    """The part of a report's text written for people: up to the quoted original, without
    copied header lines."""
    cut = ORIGINAL_STARTS.search(text)
    kept = text[: cut.start()] if cut and cut.start() > 40 else text
    return HEADER_LINE.sub("", kept)


def human_text(message: Message) -> str:
    """The report's words for people: its text parts (not the attached original), capped."""
    found = parts(message)
    texts = [text_of(p) for p in found if content_type(p) == "text/plain"]
    if not texts:
        texts = [_strip_tags(text_of(p)) for p in found if content_type(p) == "text/html"]
    if not texts and len(found) == 1:  # broken MIME (a boundary that never comes): the body
        texts = [text_of(message)]
    return "\n".join(texts)[:16_000]


def _strip_tags(html: str) -> str:
    return re.sub(r"<[^<>]{0,2000}>", " ", html[:64_000])


def read_dsn(message: Message) -> Finding | None:
    """RFC 3464: the first failing recipient's status and diagnostic, else None."""
    report = next((p for p in parts(message) if content_type(p) in DSN_TYPES), None)
    human = human_text(message)
    if report is not None:
        blocks = field_blocks(text_of(report))
    elif (start := human.lower().find("final-recipient:")) >= 0:  # a report in broken MIME
        blocks = [{}, *field_blocks(human[start:])]
        human = human[:start]
    else:
        return None
    for block in blocks[1:] or blocks:
        action = block.get("action", "").lower().strip()
        if action in NOT_FAILED or not _names_recipient(block):
            continue
        status = status_in(block.get("status", ""))
        diagnostic = block.get("diagnostic-code", "")
        kind = judge(status, diagnostic, report_words(human), final=action != "delayed")
        if diagnostic.lower().startswith(("x-unix", "x-local")):
            kind = BounceKind.SOFT  # a local delivery program failed, not the address
        if kind is BounceKind.UNKNOWN and action == "failed":
            kind = BounceKind.SOFT  # it failed, we cannot tell why: never hard
        recipient = _recipient(block)
        detail = f"{status} {diagnostic}".strip() or action
        return Finding(kind, recipient, status, detail[:200])
    return Finding(BounceKind.UNKNOWN, None, "", "delivery status without a failed recipient")


def _names_recipient(block: dict[str, str]) -> bool:
    return any(k in block for k in ("final-recipient", "original-recipient", "action", "status"))


def _recipient(block: dict[str, str]) -> str | None:
    for name in ("final-recipient", "original-recipient", "x-actual-recipient"):
        value = block.get(name, "")
        address = first_address(value.partition(";")[2] or value)
        if address:
            return address
    return None


def read_arf(message: Message) -> Finding | None:
    """RFC 5965: a complaint (abuse, fraud, opt-out, ...) or another report (kept, unknown)."""
    report = next((p for p in parts(message) if content_type(p) == "message/feedback-report"), None)
    if report is None:
        return None
    fields: dict[str, str] = {}
    for block in field_blocks(text_of(report)):
        for name, value in block.items():
            fields.setdefault(name, value)
    feedback = fields.get("feedback-type", "").strip().lower()[:40]
    recipient = first_address(fields.get("original-rcpt-to", ""))
    for original in originals(message)[:1]:
        recipient = recipient or first_address(header(original, "To"))
    kind = BounceKind.COMPLAINT if feedback in COMPLAINTS else BounceKind.UNKNOWN
    return Finding(kind, recipient, feedback, f"feedback report: {feedback or 'no type'}")
