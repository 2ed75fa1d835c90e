"""The SMTP transport against a real aiosmtpd server on 127.0.0.1: plain, STARTTLS, smtps, auth."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from digest.errors import ConfigError, TransportError
from digest.transports.smtp import SmtpTransport, parse_smtp_url
from tests.support.smtp_inbox import FAULTS, FaultyInbox, Inbox, start
from tests.transports.contract import Harness, TransportContract, by_recipient, make_email


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
        transport = SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=5)
        return Harness(transport, lambda: inbox.messages, lambda: inbox.raw)


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


@pytest.fixture(params=FAULTS)
def faulty(request: pytest.FixtureRequest) -> Iterator[FaultyInbox]:
    inbox = FaultyInbox(request.param, fail_at=6)
    controller = start(inbox)
    inbox.port = controller.port  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


def faulty_transport(inbox: FaultyInbox) -> SmtpTransport:
    port = inbox.port  # type: ignore[attr-defined]
    return SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=1 if inbox.fault == "stall" else 5)


def received_counts(inbox: Inbox) -> dict[str, int]:
    return {to: len(copies) for to, copies in by_recipient(inbox.messages).items()}


def test_a_fault_mid_batch_reports_each_recipient_and_sends_nobody_twice(
    faulty: FaultyInbox,
) -> None:
    emails = [make_email(n) for n in range(10)]
    transport = faulty_transport(faulty)
    results = transport.send_batch(emails, idempotency_key="batch-1")
    assert [r.reference for r in results] == [e.reference for e in emails]
    assert all(r.ok and r.provider_id for r in results[:5])
    assert all(not r.ok and not r.permanent for r in results[5:])
    assert received_counts(faulty) == {f"reader{n}@example.com": 1 for n in range(5)}
    # the recipients that were not sent go out in a follow-up batch, and only they
    faulty.healed = True
    again = transport.send_batch(emails[5:], idempotency_key="batch-1-retry")
    assert all(r.ok for r in again)
    assert received_counts(faulty) == {f"reader{n}@example.com": 1 for n in range(10)}


def test_a_fault_mid_batch_then_the_same_key_again_sends_only_the_rest(
    faulty: FaultyInbox,
) -> None:
    emails = [make_email(n) for n in range(8)]
    transport = faulty_transport(faulty)
    first = transport.send_batch(emails, idempotency_key="batch-1")
    faulty.healed = True
    second = transport.send_batch(emails, idempotency_key="batch-1")
    assert all(r.ok for r in second)
    assert [r.provider_id for r in second[:5]] == [r.provider_id for r in first[:5]]
    assert received_counts(faulty) == {f"reader{n}@example.com": 1 for n in range(8)}


def test_a_fault_before_anything_was_accepted_fails_the_batch_retryably(
    faulty: FaultyInbox,
) -> None:
    faulty.fail_at = 1
    with pytest.raises(TransportError) as caught:
        faulty_transport(faulty).send_batch([make_email(n) for n in range(3)], idempotency_key="k")
    assert caught.value.retryable and faulty.messages == []


def test_a_refused_recipient_then_a_fault_keeps_the_refusal_permanent(
    plain: tuple[Inbox, int],
) -> None:
    inbox = FaultyInbox("451", fail_at=3)
    controller = start(inbox)
    try:
        emails = [make_email(0), make_email(1, to="refused@example.com"), *map(make_email, (2, 3))]
        results = SmtpTransport(f"smtp://127.0.0.1:{controller.port}", timeout=5).send_batch(
            emails, idempotency_key="k"
        )
    finally:
        controller.stop()
    assert [(r.ok, r.permanent) for r in results] == [
        (True, False),
        (False, True),
        (False, False),
        (False, False),
    ]
    assert results[2].error and results[2].error.startswith("451")
    assert received_counts(inbox) == {"reader0@example.com": 1}


@pytest.fixture
def no_smtputf8() -> Iterator[tuple[Inbox, int]]:
    """A server that does not offer SMTPUTF8, as many do not (aiosmtpd offers it by default)."""
    inbox = Inbox()
    controller = start(inbox, enable_SMTPUTF8=False)
    yield inbox, controller.port
    controller.stop()


def test_an_internationalised_domain_goes_as_punycode(no_smtputf8: tuple[Inbox, int]) -> None:
    inbox, port = no_smtputf8
    emails = [make_email(0, to="leser@bücher.example"), make_email(1, to="r@ÉCOLE.example")]
    results = SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=5).send_batch(
        emails, idempotency_key="k"
    )
    assert all(r.ok for r in results), results
    assert [rcpt for _, rcpt in inbox.envelopes] == [
        ["leser@xn--bcher-kva.example"],
        ["r@xn--cole-9oa.example"],
    ]
    assert [str(m["To"]) for m in inbox.messages] == [
        "leser@xn--bcher-kva.example",
        "r@xn--cole-9oa.example",
    ]
    assert all(raw.isascii() for raw in inbox.raw)


def test_an_address_that_needs_smtputf8_fails_alone_with_its_reason(
    no_smtputf8: tuple[Inbox, int],
) -> None:
    inbox, port = no_smtputf8
    emails = [make_email(0), make_email(1, to="jörg@example.com"), make_email(2)]
    results = SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=5).send_batch(
        emails, idempotency_key="k"
    )
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].permanent and "non-ASCII local part" in (results[1].error or "")
    assert sorted(str(m["To"]) for m in inbox.messages) == [
        "reader0@example.com",
        "reader2@example.com",
    ]


def test_a_refusal_carries_the_servers_reason(plain: tuple[Inbox, int]) -> None:
    _, port = plain
    (result,) = SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=5).send_batch(
        [make_email(1, to="refused@example.com")], idempotency_key="k"
    )
    assert result.permanent and result.error == "550 5.1.1 no such user"


def test_check_logs_in_over_starttls_and_sends_nothing(
    starttls: tuple[Inbox, int], certificate: tuple[Path, Path]
) -> None:
    inbox, port = starttls
    url = f"smtp://digest:s3cret@127.0.0.1:{port}?starttls=require"
    proven = SmtpTransport(url, timeout=5, ssl_context=client_context(certificate)).check()
    assert "over TLS" in proven and "login accepted" in proven and inbox.messages == []


def test_check_refuses_a_wrong_password_for_good_and_a_dead_server_for_now(
    starttls: tuple[Inbox, int], certificate: tuple[Path, Path]
) -> None:
    _, port = starttls
    wrong = SmtpTransport(
        f"smtp://digest:wrong@127.0.0.1:{port}", timeout=5, ssl_context=client_context(certificate)
    )
    with pytest.raises(TransportError) as refused:
        wrong.check()
    assert not refused.value.retryable
    with pytest.raises(TransportError) as down:
        SmtpTransport("smtp://127.0.0.1:1", timeout=2).check()
    assert down.value.retryable
