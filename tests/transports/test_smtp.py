"""The SMTP transport against a real aiosmtpd server on 127.0.0.1: plain, STARTTLS, smtps, auth."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from digest.errors import ConfigError, TransportError
from digest.transports.smtp import SmtpTransport, parse_smtp_url
from tests.transports.contract import Harness, TransportContract, make_email


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.sessions: list[object] = []  # the SMTP session (connection) of each message

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.sessions.append(session.peer)
        return "250 Message accepted"


def check_login(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"digest"
        and auth_data.password == b"s3cret"
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(inbox: Inbox, **kwargs: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def plain() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = start(inbox)
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def starttls(certificate: tuple[Path, Path]) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = start(
        inbox,
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
    )
    yield inbox, controller.port
    controller.stop()


class TestSmtpContract(TransportContract):
    @pytest.fixture
    def harness(self, plain: tuple[Inbox, int]) -> Harness:
        inbox, port = plain
        return Harness(SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=5), lambda: inbox.messages)


class TestStarttlsAuthContract(TransportContract):
    @pytest.fixture
    def harness(self, starttls: tuple[Inbox, int], certificate: tuple[Path, Path]) -> Harness:
        inbox, port = starttls
        url = f"smtp://digest:s3cret@127.0.0.1:{port}?starttls=require"
        transport = SmtpTransport(url, timeout=5, ssl_context=client_context(certificate))
        return Harness(transport, lambda: inbox.messages)


def test_smtps_from_the_first_byte(certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    controller = start(inbox, ssl_context=server_context(certificate))
    port = controller.port
    try:
        transport = SmtpTransport(
            f"smtps://127.0.0.1:{port}", timeout=5, ssl_context=client_context(certificate)
        )
        results = transport.send_batch([make_email(1)], idempotency_key="k")
    finally:
        controller.stop()
    assert results[0].ok and [str(m["To"]) for m in inbox.messages] == ["reader1@example.com"]


def test_refused_recipient_fails_alone(plain: tuple[Inbox, int]) -> None:
    inbox, port = plain
    emails = [make_email(0), make_email(1, to="refused@example.com"), make_email(2)]
    results = SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=5).send_batch(
        emails, idempotency_key="k"
    )
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].permanent and results[1].error and results[1].error.startswith("550")
    assert len(inbox.messages) == 2


def test_one_connection_per_batch(plain: tuple[Inbox, int]) -> None:
    inbox, port = plain
    SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=5).send_batch(
        [make_email(n) for n in range(4)], idempotency_key="k"
    )
    assert len(inbox.messages) == 4 and len(set(inbox.sessions)) == 1


def test_wrong_password_is_not_retried(
    starttls: tuple[Inbox, int], certificate: tuple[Path, Path]
) -> None:
    _, port = starttls
    transport = SmtpTransport(
        f"smtp://digest:wrong@127.0.0.1:{port}", timeout=5, ssl_context=client_context(certificate)
    )
    with pytest.raises(TransportError) as caught:
        transport.send_batch([make_email(1)], idempotency_key="k")
    assert not caught.value.retryable


def test_untrusted_certificate_is_refused(starttls: tuple[Inbox, int]) -> None:
    _, port = starttls
    transport = SmtpTransport(f"smtp://digest:s3cret@127.0.0.1:{port}", timeout=5)
    with pytest.raises(TransportError):
        transport.send_batch([make_email(1)], idempotency_key="k")


def test_server_down_is_retryable() -> None:
    with pytest.raises(TransportError) as caught:
        SmtpTransport("smtp://127.0.0.1:1", timeout=2).send_batch(
            [make_email(1)], idempotency_key="k"
        )
    assert caught.value.retryable


def test_required_starttls_missing_is_refused(plain: tuple[Inbox, int]) -> None:
    _, port = plain
    with pytest.raises(TransportError) as caught:
        SmtpTransport(f"smtp://127.0.0.1:{port}?starttls=require", timeout=5).send_batch(
            [make_email(1)], idempotency_key="k"
        )
    assert not caught.value.retryable and "STARTTLS" in caught.value.message


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "mail.example:25"])
def test_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_smtp_url(url)


def test_url_parts() -> None:
    target = parse_smtp_url("smtps://us%40er:p%3Ass@mail.example")
    assert (target.host, target.port, target.implicit_tls) == ("mail.example", 465, True)
    assert (target.username, target.password) == ("us@er", "p:ss")
