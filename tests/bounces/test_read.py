"""Reading bounces: our own well-formed reports, and hostile input (huge, deep, malformed,
forged) that must neither raise nor hang nor ever read as a hard bounce by accident."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest import bounces
from digest.bounces import BounceKind
from digest.config import Settings
from digest.transports.verp import verp_address, verp_reference
from tests.support.bounce_mail import arf_report, dsn, plain_bounce
from tests.support.settings import make_test_settings

SECRET = "s" * 40
DOMAIN = "bounces.example.com"


@pytest.mark.parametrize(
    ("status", "diagnostic", "kind"),
    [
        (
            "5.1.1",
            "smtp; 550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown",
            "hard",
        ),
        ("5.0.0", "smtp; 550 No such user here", "hard"),
        ("5.2.2", "smtp; 552 5.2.2 Mailbox full", "soft"),
        (
            "5.7.1",
            "smtp; 554 5.7.1 Service unavailable; client host blocked using Spamhaus",
            "soft",
        ),
        ("4.4.7", "", "soft"),
        ("5.1.1", "smtp; 550 5.1.1 mailbox over quota", "soft"),  # words win over the code
        ("", "", "soft"),  # failed, reason unreadable: counted, never hard
    ],
)
def test_a_dsn_reads_its_failed_recipient(status: str, diagnostic: str, kind: str) -> None:
    bounce = bounces.read_bounce(dsn("ann@example.org", status=status, diagnostic=diagnostic))
    assert (bounce.format, bounce.kind, bounce.finding.recipient) == (
        "dsn",
        kind,
        "ann@example.org",
    )


def test_a_delay_warning_is_soft_even_for_an_unknown_user() -> None:
    raw = dsn("ann@example.org", status="4.1.1", diagnostic="450 user unknown", action="delayed")
    assert bounces.read_bounce(raw).kind == BounceKind.SOFT


def test_a_delivered_notice_is_unknown() -> None:
    raw = dsn("ann@example.org", status="2.0.0", diagnostic="250 ok", action="delivered")
    assert bounces.read_bounce(raw).kind == BounceKind.UNKNOWN


@pytest.mark.parametrize(("feedback", "kind"), [("abuse", "complaint"), ("opt-out", "complaint"),
                                                ("auth-failure", "unknown"), ("not-spam", "unknown")])  # fmt: skip
def test_arf_feedback_types(feedback: str, kind: str) -> None:
    bounce = bounces.read_bounce(arf_report("ann@example.org", feedback=feedback))
    assert (bounce.format, bounce.kind, bounce.finding.recipient) == (
        "arf",
        kind,
        "ann@example.org",
    )


def test_a_complaint_names_our_message_by_the_quoted_return_path() -> None:
    verp = verp_address(SECRET, DOMAIN, "i3-s42")
    assert verp is not None
    bounce = bounces.read_bounce(arf_report("ann@example.org", return_path=verp))
    assert verp in bounce.verp_candidates


def test_plain_text_bounces_of_qmail_and_exim_shape() -> None:
    bounce = bounces.read_bounce(plain_bounce("ann@example.org", "550 5.1.1 user unknown"))
    assert (bounce.format, bounce.kind, bounce.finding.recipient) == (
        "text",
        "hard",
        "ann@example.org",
    )


@pytest.fixture
def verp_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'unused.db'}"
    return make_test_settings(tmp_path, url, secret_key=SECRET, bounce_domain=DOMAIN)


def test_verp_round_trip_and_forgeries() -> None:
    address = verp_address(SECRET, DOMAIN, "i3-s42")
    assert address is not None and address.startswith("bounces+i3-s42-")
    assert verp_reference(SECRET, DOMAIN, address) == "i3-s42"
    assert (
        verp_reference(SECRET, DOMAIN, f"<{address.upper()}>") == "i3-s42"
    )  # servers lower/upper-case
    local, _, _ = address.partition("@")
    forged = [
        f"bounces+i3-s43-{local[-16:]}@{DOMAIN}",  # another reader, the old signature
        f"{local[:-1]}0@{DOMAIN}" if local[-1] != "0" else f"{local[:-1]}1@{DOMAIN}",
        f"{local}@elsewhere.example",  # right signature, another domain
        f"bounces+i3-s42@{DOMAIN}",
        "bounces+" + "a" * 5000 + f"@{DOMAIN}",
        "",
    ]
    assert [verp_reference(SECRET, DOMAIN, f) for f in forged] == [None] * len(forged)
    assert verp_reference("another secret" * 3, DOMAIN, address) is None
    assert verp_address(SECRET, DOMAIN, "x" * 80) is None  # would overflow the local part


HOSTILE = {
    "empty": b"",
    "binary": bytes(range(256)) * 4000,
    "huge": b"Subject: Undelivered Mail\r\nFrom: MAILER-DAEMON@x\r\n\r\n" + b"A" * 20_000_000,
    "deep": b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(3000)
    ),
    "wide": b'Content-Type: multipart/report; report-type=delivery-status; boundary="x"\r\n\r\n'
    + b"--x\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n\r\n" * 20_000,
    "many recipients": dsn("a@b.example", status="5.1.1", diagnostic="550 user unknown")
    + b"\r\n\r\nFinal-Recipient: rfc822; z@b.example\r\nAction: failed\r\n" * 50_000,
    "long header": b"Subject: " + b"x" * 3_000_000 + b"\r\nContent-Type: text/plain\r\n\r\nhi",
    "bad charset": b"From: MAILER-DAEMON@x\r\nSubject: Undeliverable\r\n"
    b'Content-Type: text/plain; charset="x-nope"\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%%\r\n',
    "address bait": b"From: postmaster@x\r\nSubject: failure notice\r\n\r\n"
    + b"a" * 500_000
    + b"@" * 500_000,
    "encoded words": b"Subject: " + b"=?utf-8?q?" + b"=FF" * 200_000 + b"?=\r\n\r\nx",
    "nul bytes": b"From: MAILER-DAEMON@x\x00\r\nSubject: \x00Undelivered\r\n\r\n\x00550 5.1.1 user unknown <a@b.example>",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_never_raises_never_hangs(name: str, verp_settings: Settings) -> None:
    bounce = bounces.read_bounce(HOSTILE[name], envelope_to=["bounces+x@" + "y" * 10_000])
    assert bounce.kind in set(BounceKind)
    assert len(bounce.message_id) <= 150 and len(bounce.finding.detail) <= 200
    assert len(bounce.verp_candidates) <= 20
    assert bounces.named_reference(bounce, verp_settings) is None
