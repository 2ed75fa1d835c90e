"""Bounces without a standard report: qmail, Exim, older Sendmail, Exchange and mailbox
providers' own wording. Recognised by who sends them and how they read, then judged on the
text before the quoted original message."""

from __future__ import annotations

import re
from email.message import Message

from digest.bounces.kinds import BounceKind, Finding
from digest.bounces.mail import header
from digest.bounces.patterns import judge, status_in
from digest.bounces.reports import ADDRESS, first_address, human_text, report_words

BOUNCE_SENDER = re.compile(
    r"mailer[-_]daemon|postmaster|mail delivery (?:system|subsystem)|mail administrator", re.I
)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status|fail|has failed|notification|problem|error)|"
    r"mail delivery fail|returned mail|failure notice|non[- ]?deliver|could not (?:be )?deliver|"
    r"not delivered|delivery report|bounced? mail|rejected",
    re.I,
)
BOUNCE_BODY = re.compile(
    r"qmail-send program|could not be delivered|wasn't able to deliver|was not delivered|"
    r"delivery to the following recipients? failed|permanent (?:error|fatal)|undeliverable|"
    r"delivery has failed|following addresses? failed|following recipients? (?:could|cannot)|"
    r"unable to deliver|returned to (?:the )?sender",
    re.I,
)
NOT_FINAL = re.compile(
    r"delayed|still (?:trying|undelivered)|will (?:continue|keep) trying|not yet been delivered|"
    r"this is a warning",
    re.I,
)
OURS = re.compile(r"^(?:mailer-daemon|postmaster|mailer_daemon|root)@", re.I)


def is_bounce(message: Message, text: str) -> bool:
    sender, subject = header(message, "From"), header(message, "Subject")
    signals = [
        bool(BOUNCE_SENDER.search(sender)),
        bool(BOUNCE_SUBJECT.search(subject)),
        bool(header(message, "X-Failed-Recipients")),
        bool(BOUNCE_BODY.search(text[:8000])),
    ]
    return signals[2] or sum(signals) >= 2


def report_text(message: Message) -> str:
    """The human text up to the quoted original."""
    return report_words(human_text(message))


def read_plain(message: Message) -> Finding | None:
    text = report_text(message)
    if not is_bounce(message, text):
        return None
    subject = header(message, "Subject")
    final = not NOT_FINAL.search(f"{subject}\n{text[:3000]}")
    status = status_in(text)
    kind = judge(status, text, final=final)
    if kind is BounceKind.UNKNOWN:
        kind = BounceKind.SOFT  # a bounce whose reason we cannot read: counted, never hard
    recipient = failed_recipient(message, text)
    line = _reason_line(text)
    return Finding(kind, recipient, status, (f"{status} {line}".strip() or subject)[:200])


def failed_recipient(message: Message, text: str) -> str | None:
    named = first_address(header(message, "X-Failed-Recipients"))
    if named:
        return named
    skip = {first_address(header(message, n)) for n in ("From", "To", "Delivered-To")}
    for match in ADDRESS.finditer(text[:8000]):
        address = match.group(0).lower()
        if address not in skip and not OURS.match(address):
            return address
    return None


def _reason_line(text: str) -> str:
    """The line that carries a server's reply (a code), for the detail column."""
    for line in text[:8000].splitlines():
        if re.search(r"(?<!\d)[45]\d\d(?!\d)|#[45]\.\d", line):
            return line.strip()[:180]
    return ""


def auto_reply(message: Message) -> bool:
    """RFC 3834 auto-replies (vacation, out of office) are answers, not bounces."""
    submitted = header(message, "Auto-Submitted").lower()
    flags = " ".join(header(message, n) for n in ("X-Autoreply", "X-Autorespond", "Precedence"))
    subject = header(message, "Subject").lower()
    return (
        submitted.startswith("auto-replied")
        or "auto" in flags.lower()
        or subject.startswith(("auto:", "out of office", "automatic reply", "autoreply"))
    )


def unknown(reason: str) -> Finding:
    return Finding(BounceKind.UNKNOWN, None, "", reason)
