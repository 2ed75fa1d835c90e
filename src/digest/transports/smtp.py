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
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from digest.errors import ConfigError, TransportError
from digest.transports.base import OutgoingEmail, SendResult
from digest.transports.mime import build_mime, message_id

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
        self, url: str, *, timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.target = parse_smtp_url(url)
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._sent: dict[str, list[SendResult]] = {}
        self._lock = threading.Lock()

    def send_batch(
        self, emails: Sequence[OutgoingEmail], *, idempotency_key: str
    ) -> list[SendResult]:
        with self._lock:
            if idempotency_key in self._sent:
                return list(self._sent[idempotency_key])
        try:
            with self._connect() as connection:
                results = [self._send_one(connection, email) for email in emails]
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(f"SMTP login refused: {exc.smtp_code}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP {self.target.host}: {exc}", retryable=True) from exc
        self._remember(idempotency_key, results)
        return results

    def close(self) -> None:
        """Connections live for one batch; nothing stays open."""

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

    def _send_one(self, connection: smtplib.SMTP, email: OutgoingEmail) -> SendResult:
        """A refused recipient fails alone; the connection goes on with the next one."""
        try:
            connection.send_message(build_mime(email))
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
            return SendResult(email.reference, error=f"{code} {text}", permanent=code >= 500)
        except smtplib.SMTPDataError as exc:
            connection.rset()
            return SendResult(
                email.reference,
                error=f"{exc.smtp_code} data refused",
                permanent=exc.smtp_code >= 500,
            )
        return SendResult(email.reference, provider_id=message_id(email))

    def _remember(self, key: str, results: list[SendResult]) -> None:
        with self._lock:
            if len(self._sent) >= REMEMBERED_KEYS:
                self._sent.pop(next(iter(self._sent)))
            self._sent[key] = results
