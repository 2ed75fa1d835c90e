"""Resend's batch endpoint through the official SDK, over one reused HTTP connection pool.

The SDK keeps its configuration in module globals (api_key, api_url, default_http_client), so
this is the only module that imports `resend`, and it sets them on every call: two transports
in one process (tests) never send with each other's settings.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import requests
import resend
from requests.adapters import HTTPAdapter
from resend.exceptions import ResendError

from digest.errors import IdempotencyMismatch, QuotaExceeded, TransportError
from digest.transports.address import parse_mailbox
from digest.transports.base import HeaderObserver, OutgoingEmail, SendResult
from digest.transports.batch_json import BatchEncoder, pieced
from digest.transports.headers import (
    UNSENDABLE,
    custom_headers,
    header_text,
    mailbox_text,
    provider_value,
)
from digest.transports.mime import message_id

MAX_BATCH = 100
QUOTA_ERRORS = {"daily_quota_exceeded", "monthly_quota_exceeded"}
_sdk_lock = threading.Lock()
log = logging.getLogger(__name__)


class SessionClient(resend.HTTPClient):
    """The SDK's HTTP seam, backed by one requests.Session: keep-alive instead of a new
    connection (and TLS handshake) per call. Every answer's headers go to `observer`.

    The SDK hands over the body as Python objects; we encode it (batch_json.py) instead of
    letting requests use the stdlib encoder, which was 43% of a send's CPU (issue 14), and
    the issue's frozen text is escaped once per issue (batch_json.py)."""

    def __init__(self, *, timeout: float, pool: int, observer: HeaderObserver | None) -> None:
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.timeout = timeout
        self.observer = observer
        self.encoder = BatchEncoder()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: Any = None,
        files: Any = None,
        data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        sent = dict(headers)
        body = None
        if json is not None:
            body = self.encoder.encode(json)
            sent["Content-Type"] = "application/json"
        try:
            response = self.session.request(
                method, url, headers=sent, data=body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ConnectionError(f"cannot reach Resend: {exc}") from exc
        if self.observer is not None:
            self.observer(response.headers)
        return response.content, response.status_code, response.headers


class ResendTransport:
    name = "resend"

    def __init__(
        self,
        *,
        api_key: str,
        api_url: str,
        timeout: float = 30.0,
        pool: int = 8,
        observer: HeaderObserver | None = None,
    ) -> None:
        self.api_key = api_key
        self.api_url = api_url.rstrip("/")
        self.client = SessionClient(timeout=timeout, pool=pool, observer=observer)

    def send_batch(
        self, emails: Sequence[OutgoingEmail], *, idempotency_key: str
    ) -> list[SendResult]:
        if not emails:
            return []
        if len(emails) > MAX_BATCH:
            raise TransportError(f"Resend takes at most {MAX_BATCH} emails", retryable=False)
        params, refused = build_params(emails, idempotency_key=idempotency_key)
        sendable = [email for email in emails if email.reference not in refused]
        if not sendable:
            return [refused[email.reference] for email in emails]
        options: Any = {"idempotency_key": idempotency_key, "batch_validation": "permissive"}
        try:
            response = self._call(params, options)
        except ResendError as exc:
            raise translate(exc) from exc
        answer = response if isinstance(response, Mapping) else {}
        sent = {r.reference: r for r in map_results(sendable, answer, key=idempotency_key)}
        return [sent.get(email.reference) or refused[email.reference] for email in emails]

    def _call(self, params: Any, options: Any) -> Mapping[str, Any]:
        with _sdk_lock:  # the SDK reads these module globals at request time
            resend.api_key = self.api_key
            resend.api_url = self.api_url
            resend.default_http_client = self.client
        # Network errors inside the client come back as ResendError(500, "HttpClientError").
        return resend.Batch.send(params, options)

    def close(self) -> None:
        self.client.session.close()

    def check(self) -> str:
        """Reach the API with the key (listing domains sends nothing). A key restricted to
        sending is a good key: Resend refuses it the listing with `restricted_api_key`."""
        try:
            with _sdk_lock:
                resend.api_key = self.api_key
                resend.api_url = self.api_url
                resend.default_http_client = self.client
                resend.Domains.list()
        except ResendError as exc:
            if exc.error_type == "restricted_api_key":
                return f"Resend at {self.api_url} accepts the key (sending access)"
            raise translate(exc) from exc
        return f"Resend at {self.api_url} accepts the key"


def build_params(
    emails: Sequence[OutgoingEmail], *, idempotency_key: str
) -> tuple[list[dict[str, Any]], dict[str, SendResult]]:
    """The payload of every email that can be sent, and a failed result for each that cannot."""
    params: list[dict[str, Any]] = []
    refused: dict[str, SendResult] = {}
    for email in emails:
        try:
            params.append(to_params(email, idempotency_key=idempotency_key))
        except UNSENDABLE as exc:
            refused[email.reference] = SendResult(
                email.reference, error=f"not sent: {exc}", permanent=True
            )
    return params, refused


def to_params(email: OutgoingEmail, *, idempotency_key: str) -> dict[str, Any]:
    """One email as Resend takes it. Resend encodes text headers itself, so it gets our header
    text (no controls, no encoded-word look-alikes); addresses and URL headers our ASCII form."""
    headers = {name: _header(name, value) for name, value in custom_headers(email.headers)}
    headers["Message-ID"] = message_id(email, idempotency_key=idempotency_key)
    params: dict[str, Any] = {
        "from": _sender(email.from_email),
        "to": [parse_mailbox(email.to).address],
        "subject": _subject(email.subject),
        "html": pieced(email.html, email.html_parts),
        "text": pieced(email.text, email.text_parts),
        "headers": headers,
    }
    if email.tags:
        params["tags"] = [{"name": tag(k), "value": tag(v)} for k, v in email.tags.items()]
    return params


# The sender, the subject and the list headers are the same in every copy of an issue:
# checked once, not once per reader (they were a tenth of a send's CPU). Pure functions; an
# exception is not cached, so a bad value is refused every time.
@functools.lru_cache(maxsize=64)
def _sender(from_email: str) -> str:
    return mailbox_text(parse_mailbox(from_email))


@functools.lru_cache(maxsize=64)
def _subject(subject: str) -> str:
    return header_text(subject)


@functools.lru_cache(maxsize=1024)
def _header(name: str, value: str) -> str:
    return provider_value(name, value)


def tag(value: str) -> str:
    """Resend's tags take ASCII letters, digits, underscores and dashes, at most 256."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-") else "_" for ch in value)
    return safe[:256]


def map_results(
    emails: Sequence[OutgoingEmail], response: Mapping[str, Any], *, key: str = ""
) -> list[SendResult]:
    """Permissive validation answers ids for the valid emails, in order, and errors by index.

    A 200 means the batch was accepted, so an answer that lists fewer ids than accepted emails
    (or items without an id) still counts them sent, without an id, and says so in the log:
    sending them again would mail them twice.
    """
    errors = _errors_by_index(response.get("errors"), len(emails))
    listed = response.get("data")
    ids = iter(_ids(listed if isinstance(listed, list) else []))
    results = []
    for index, email in enumerate(emails):
        if index in errors:
            results.append(SendResult(email.reference, error=errors[index], permanent=True))
        else:
            results.append(SendResult(email.reference, provider_id=next(ids, None)))
    missing = [r.reference for r in results if r.ok and r.provider_id is None]
    if missing:
        log.warning(
            "batch %s: Resend accepted the batch but answered no id for %d of %d emails "
            "(%s); recorded as sent without an id, not sent again",
            key or "?",
            len(missing),
            len(emails),
            ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else ""),
        )
    return results


def _errors_by_index(value: Any, size: int) -> dict[int, str]:
    errors: dict[int, str] = {}
    for item in value if isinstance(value, list) else []:
        index = item.get("index") if isinstance(item, dict) else None
        if isinstance(index, int) and 0 <= index < size:
            errors[index] = str(item.get("message") or "rejected")[:500]
    return errors


def _ids(items: list[Any]) -> list[str | None]:
    return [
        str(item["id"])[:200] if isinstance(item, dict) and item.get("id") else None
        for item in items
    ]


def translate(exc: ResendError) -> TransportError:
    """The SDK's error as ours: what the ledger needs is whether, and when, to try again."""
    code, kind = int(exc.code) if str(exc.code).isdigit() else 500, exc.error_type
    message = f"Resend {code} {kind}: {exc.message}"
    if kind in QUOTA_ERRORS:
        return QuotaExceeded(message)
    if code == 429:
        wait = retry_after(exc.headers)
        if wait is None:  # no hint: back off like an outage, bounded by DIGEST_SEND_MAX_ATTEMPTS
            return TransportError(f"{message} (no retry-after)", retryable=True)
        return TransportError(message, retryable=True, retry_after=wait)
    if code == 409 and kind == "concurrent_idempotent_requests":
        return TransportError(message, retryable=True, retry_after=1.0)
    if code == 409:
        return IdempotencyMismatch(message)
    return TransportError(message, retryable=code >= 500)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the provider asks us to wait; None when it does not say."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    for name in ("retry-after", "ratelimit-reset"):
        try:
            wait = float(lowered[name])
        except (KeyError, ValueError):
            continue
        if math.isfinite(wait):
            return min(max(0.0, wait), 3600.0)
    return None
