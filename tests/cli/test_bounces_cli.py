"""SMTP senders end to end: the SMTP transport sends each message from its VERP address (to a
real aiosmtpd server), remote bounces come back to `digest bounces serve` (the real console
script, SMTP and LMTP) or are imported with `digest bounces import`, on both engines."""

from __future__ import annotations

import smtplib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.config import Settings
from digest.db import session_scope
from digest.models import Delivery, Subscriber, WebhookEvent
from digest.transports.smtp import SmtpTransport
from digest.transports.verp import envelope_sender, verp_reference
from tests.support.bounce_mail import arf_report, dsn, plain_bounce
from tests.support.cli import DIGEST, digest_env, run_digest
from tests.support.ledger import run_send, setup_send
from tests.support.settings import make_test_settings
from tests.support.smtp_inbox import Inbox, free_port, start

DOMAIN = "bounces.example.com"


class EnvelopeInbox(Inbox):
    """Keeps each message's envelope sender (MAIL FROM) beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.senders: dict[str, str] = {}

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.senders[envelope.rcpt_tos[0]] = str(envelope.mail_from)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sent(engine: Engine, settings: Settings) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Three readers sent issue #1 over SMTP with VERP; yields settings and reader -> sender."""
    configured = settings.model_copy(update={"bounce_domain": DOMAIN})
    inbox = EnvelopeInbox()
    controller = start(inbox)
    try:
        transport = SmtpTransport(
            f"smtp://127.0.0.1:{controller.port}", envelope=envelope_sender(configured)
        )
        issue_id = setup_send(engine, configured, 3)
        run_send(engine, configured, issue_id, transport)
    finally:
        controller.stop()
    yield configured, inbox.senders


def env_for(tmp_path: Path, settings: Settings) -> dict[str, str]:
    return digest_env(
        tmp_path,
        settings.database_url,
        DIGEST_SECRET_KEY=settings.secret,
        DIGEST_BOUNCE_DOMAIN=DOMAIN,
        DIGEST_BOUNCE_KEEP_DIR=str(tmp_path / "kept"),
    )


def statuses(engine: Engine) -> dict[str, str]:
    with session_scope(engine, read_only=True) as session:
        return {str(s.email): str(s.status) for s in session.exec(select(Subscriber)).all()}


def test_every_message_leaves_from_its_own_signed_verp_address(
    engine: Engine, sent: tuple[Settings, dict[str, str]]
) -> None:
    settings, senders = sent
    with session_scope(engine, read_only=True) as session:
        people = {s.id: s.email for s in session.exec(select(Subscriber)).all()}
        expected = {
            people[d.subscriber_id]: f"i{d.issue_id}-s{d.subscriber_id}"
            for d in session.exec(select(Delivery)).all()
        }
    found = {reader: verp_reference(settings.secret, DOMAIN, s) for reader, s in senders.items()}
    assert found == expected and len(found) == 3


class Receiver:
    def __init__(self, tmp_path: Path, settings: Settings, *, lmtp: bool = False) -> None:
        self.port = free_port()
        args = [DIGEST, "bounces", "serve", "--listen", f"127.0.0.1:{self.port}"]
        self.lmtp = lmtp
        self.process = subprocess.Popen(
            [*args, *(["--lmtp"] if lmtp else [])],
            env=env_for(tmp_path, settings),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        first = self.process.stdout.readline()  # printed once it listens
        assert "Receiving bounces" in first, first + self.process.stderr.read()

    def deliver(self, raw: bytes, to: str) -> tuple[int, bytes]:
        client = smtplib.LMTP if self.lmtp else smtplib.SMTP
        with client("127.0.0.1", self.port, timeout=30) as connection:
            connection.ehlo()  # LHLO over LMTP
            connection.mail("")  # bounces come from the null sender
            code, reply = connection.rcpt(to)
            if code != 250:
                return code, reply
            return connection.data(raw)

    def stop(self) -> str:
        self.process.terminate()
        _, err = self.process.communicate(timeout=30)
        return err


def test_bounces_serve_applies_hard_bounces_and_complaints_once(
    tmp_path: Path, engine: Engine, sent: tuple[Settings, dict[str, str]]
) -> None:
    settings, senders = sent
    receiver = Receiver(tmp_path, settings)
    try:
        hard = dsn("whoever@example.org", status="5.1.1", diagnostic="550 5.1.1 user unknown")
        assert receiver.deliver(hard, senders["reader0@example.com"])[0] == 250
        assert receiver.deliver(hard, senders["reader0@example.com"])[0] == 250  # a retry
        complaint = arf_report("reader1@example.com", return_path=senders["reader1@example.com"])
        assert receiver.deliver(complaint, f"bounces@{DOMAIN}")[0] == 250
        forged = senders["reader2@example.com"][: -len(DOMAIN) - 2] + "0@" + DOMAIN
        assert receiver.deliver(hard, forged)[0] == 250  # accepted, applied to nobody
        assert receiver.deliver(hard, "postmaster@example.com")[0] == 550  # not ours
        auto = b"From: ann@example.org\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nAway."
        assert receiver.deliver(auto, f"bounces@{DOMAIN}")[0] == 250
    finally:
        log = receiver.stop()
    assert statuses(engine) == {
        "reader0@example.com": "bounced",
        "reader1@example.com": "complained",
        "reader2@example.com": "confirmed",
    }, log
    with session_scope(engine, read_only=True) as session:
        events = session.exec(select(WebhookEvent.event_type)).all()
    assert sorted(events) == ["smtp.complaint", "smtp.hard", "smtp.hard", "smtp.unknown"]
    assert len(list((tmp_path / "kept").glob("*.eml"))) == 1


def test_bounces_serve_speaks_lmtp(
    tmp_path: Path, engine: Engine, sent: tuple[Settings, dict[str, str]]
) -> None:
    settings, senders = sent
    receiver = Receiver(tmp_path, settings, lmtp=True)
    try:
        raw = plain_bounce("reader2@example.com", "550 5.1.1 no such user")
        assert receiver.deliver(raw, senders["reader2@example.com"])[0] == 250
    finally:
        receiver.stop()
    assert statuses(engine)["reader2@example.com"] == "bounced"


def test_bounces_import_reads_exported_files_once(
    tmp_path: Path, engine: Engine, sent: tuple[Settings, dict[str, str]]
) -> None:
    settings, senders = sent
    folder = tmp_path / "mailbox"
    folder.mkdir()
    (folder / "1.eml").write_bytes(
        dsn(
            "x@example.org",
            status="5.1.1",
            diagnostic="550 user unknown",
            to=senders["reader0@example.com"],
        )
    )
    (folder / "2.eml").write_bytes(b"\x00\xff not a message at all")
    files = [str(p) for p in sorted(folder.iterdir())]
    first = run_digest(["bounces", "import", *files], env_for(tmp_path, settings), tmp_path)
    again = run_digest(["bounces", "import", *files], env_for(tmp_path, settings), tmp_path)
    missing = run_digest(
        ["bounces", "import", str(folder / "nope.eml")], env_for(tmp_path, settings), tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert "1.eml: hard (dsn): suppressed 1 subscriber(s)" in first.stdout
    assert "hard 1" in first.stdout and "unknown 1" in first.stdout
    assert "duplicate" in again.stdout
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    assert statuses(engine)["reader0@example.com"] == "bounced"


def test_bounces_commands_need_a_bounce_domain(tmp_path: Path, settings: Settings) -> None:
    env = digest_env(tmp_path, settings.database_url, DIGEST_SECRET_KEY=settings.secret)
    result = run_digest(["bounces", "import", "x.eml"], env, tmp_path)
    assert result.returncode == 1 and "DIGEST_BOUNCE_DOMAIN" in result.stderr


def test_bounces_serve_answers_451_while_the_database_is_away(tmp_path: Path) -> None:
    """Nothing listens where the store should be: the bounce is refused for now (451), so the
    sending server keeps it and tries again later."""
    settings = make_test_settings(
        tmp_path,
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone",
        bounce_domain=DOMAIN,
    )
    receiver = Receiver(tmp_path, settings)
    try:
        raw = dsn("x@example.org", status="5.1.1", diagnostic="550 user unknown")
        code, reply = receiver.deliver(raw, f"bounces@{DOMAIN}")
    finally:
        log = receiver.stop()
    assert code == 451, (reply, log)
    assert "database unavailable" in log
