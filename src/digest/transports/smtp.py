"""SMTP with the standard library: one connection per batch, STARTTLS when offered, auth.

`DIGEST_SMTP_URL`: `smtp://[user:pass@]host[:port]` (STARTTLS when the server offers it;
`?starttls=require` refuses to go on without it) or `smtps://[user:pass@]host[:port]` (TLS
from the first byte). SMTP has no idempotency key, so keys already sent by this process are
remembered and answered again; across a crash the ledger's lease may re-send one batch.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from digest.errors import ConfigError, TransportError
from digest.transports.address import parse_mailbox
from digest.transports.base import OutgoingEmail, SendResult
from digest.transports.headers import UNSENDABLE
from digest.transports.mime import build_message, message_id

REMEMBERED_KEYS = 10_000


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    require_starttls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            f"DIGEST_SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465, "
            f"got {parts.scheme or 'no'} scheme"
        )
    implicit = parts.scheme == "smtps"
    query = parse_qs(parts.query)
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        implicit_tls=implicit,
        require_starttls=query.get("starttls", [""])[0] == "require",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class SmtpTransport:
    name = "smtp"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        envelope: Callable[[OutgoingEmail], str | None] | None = None,
    ) -> None:
        self.target = parse_smtp_url(url)
        self.envelope = envelope  # MAIL FROM per message (VERP, transports/verp.py); else From
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._final: dict[str, dict[str, SendResult]] = {}  # key -> reference -> final result
        self._lock = threading.Lock()

    def send_batch(
        self, emails: Sequence[OutgoingEmail], *, idempotency_key: str
    ) -> list[SendResult]:
        with self._lock:
            known = dict(self._final.get(idempotency_key, {}))
        pending = [email for email in emails if email.reference not in known]
        fresh = self._send_pending(
            pending, key=idempotency_key, anything_sent=any(r.ok for r in known.values())
        )
        results = [known.get(email.reference) or fresh[email.reference] for email in emails]
        self._remember(idempotency_key, [r for r in results if r.ok or r.permanent])
        return results

    def close(self) -> None:
        """Connections live for one batch; nothing stays open."""

    def check(self) -> str:
        """Connect, EHLO (STARTTLS as configured) and log in if credentials are set; send
        nothing. TransportError says what failed."""
        connection = self._open()
        try:
            secured = isinstance(connection.sock, ssl.SSLSocket)
        finally:
            _quit(connection)
        target = f"SMTP {self.target.host}:{self.target.port}"
        login = ", login accepted" if self.target.username else ""
        return f"{target} answered EHLO{' over TLS' if secured else ''}{login}"

    def _send_pending(
        self, emails: Sequence[OutgoingEmail], *, key: str, anything_sent: bool
    ) -> dict[str, SendResult]:
        """One connection for `emails`; stops at the first fault that is not one recipient's."""
        if not emails:
            return {}
        connection = self._open()
        results: dict[str, SendResult] = {}
        try:
            for email in emails:
                results[email.reference] = self._send_one(connection, email, key)
        except (smtplib.SMTPException, OSError) as exc:
            if not anything_sent and not any(r.ok for r in results.values()):
                raise TransportError(
                    f"SMTP {self.target.host}: {exc}", retryable=_retryable(exc)
                ) from exc
            results.update(_not_sent(emails, results, reason=_describe(exc)))
        finally:
            _quit(connection)
        return results

    def _open(self) -> smtplib.SMTP:
        try:
            return self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(f"SMTP login refused: {exc.smtp_code}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP {self.target.host}: {exc}", retryable=True) from exc

    def _connect(self) -> smtplib.SMTP:
        target = self.target
        if target.implicit_tls:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=self.timeout, context=self.ssl_context
            )
        else:
            connection = smtplib.SMTP(target.host, target.port, timeout=self.timeout)
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=self.ssl_context)
                connection.ehlo()
            elif target.require_starttls:
                connection.close()
                raise TransportError(f"SMTP {target.host} does not offer STARTTLS", retryable=False)
        if target.username:
            connection.login(target.username, target.password or "")
        return connection

    def _send_one(self, connection: smtplib.SMTP, email: OutgoingEmail, key: str) -> SendResult:
        """A refused recipient fails alone; the connection goes on with the next one.

        Envelope and headers are ASCII (IDNA domains): we never need the server's SMTPUTF8.
        """
        try:
            data = build_message(email, idempotency_key=key)
            sender, recipient = parse_mailbox(email.from_email), parse_mailbox(email.to)
        except UNSENDABLE as exc:
            return SendResult(email.reference, error=f"not sent: {exc}", permanent=True)
        envelope = self.envelope(email) if self.envelope is not None else None
        try:
            connection.sendmail(envelope or sender.address, [recipient.address], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            return SendResult(
                email.reference, error=f"{code} {_text(reason)}", permanent=code >= 500
            )
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code == 421:  # smtplib closed the connection: a fault for the batch
                raise
            return SendResult(
                email.reference,
                error=f"{exc.smtp_code} data refused: {_text(exc.smtp_error)}",
                permanent=exc.smtp_code >= 500,
            )
        return SendResult(email.reference, provider_id=message_id(email, idempotency_key=key))

    def _remember(self, key: str, results: list[SendResult]) -> None:
        with self._lock:
            if key not in self._final and len(self._final) >= REMEMBERED_KEYS:
                self._final.pop(next(iter(self._final)))
            self._final.setdefault(key, {}).update((r.reference, r) for r in results)


def _not_sent(
    emails: Sequence[OutgoingEmail], done: dict[str, SendResult], *, reason: str
) -> dict[str, SendResult]:
    """The failing message and the ones never tried: not sent, worth trying again later."""
    first = True
    missing: dict[str, SendResult] = {}
    for email in emails:
        if email.reference in done:
            continue
        error = reason if first else f"not tried: the connection stopped earlier ({reason})"
        missing[email.reference] = SendResult(email.reference, error=error, permanent=False)
        first = False
    return missing


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"SMTP connection failed: {exc}"


def _text(reply: bytes | str) -> str:
    """A server's reply text, for the ledger: one line, bounded."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:300]


def _retryable(exc: BaseException) -> bool:
    """A 5xx refusal of the sender or the data will be refused again; faults of the line not."""
    return not (isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500)


def _quit(connection: smtplib.SMTP) -> None:
    """Say goodbye if the line still works; a failed QUIT changes nothing that was sent."""
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()
