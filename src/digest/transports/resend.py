"""Resend's batch endpoint through the official SDK, over one reused HTTP connection pool.

The SDK keeps its configuration in module globals (api_key, api_url, default_http_client), so
this is the only module that imports `resend`, and it sets them on every call: two transports
in one process (tests) never send with each other's settings.
"""

from __future__ import annotations

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
from digest.transports.base import HeaderObserver, OutgoingEmail, SendResult

MAX_BATCH = 100
QUOTA_ERRORS = {"daily_quota_exceeded", "monthly_quota_exceeded"}
_sdk_lock = threading.Lock()
log = logging.getLogger(__name__)


class SessionClient(resend.HTTPClient):
    """The SDK's HTTP seam, backed by one requests.Session: keep-alive instead of a new
    connection (and TLS handshake) per call. Every answer's headers go to `observer`."""

    def __init__(self, *, timeout: float, pool: int, observer: HeaderObserver | None) -> None:
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.timeout = timeout
        self.observer = observer

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: Any = None,
        files: Any = None,
        data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        try:
            response = self.session.request(
                method, url, headers=dict(headers), json=json, timeout=self.timeout
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
        params: Any = [to_params(email) for email in emails]
        options: Any = {"idempotency_key": idempotency_key, "batch_validation": "permissive"}
        try:
            response = self._call(params, options)
        except ResendError as exc:
            raise translate(exc) from exc
        answer = response if isinstance(response, Mapping) else {}
        return map_results(emails, answer, key=idempotency_key)

    def _call(self, params: Any, options: Any) -> Mapping[str, Any]:
        with _sdk_lock:  # the SDK reads these module globals at request time
            resend.api_key = self.api_key
            resend.api_url = self.api_url
            resend.default_http_client = self.client
        # Network errors inside the client come back as ResendError(500, "HttpClientError").
        return resend.Batch.send(params, options)

    def close(self) -> None:
        self.client.session.close()


def to_params(email: OutgoingEmail) -> dict[str, Any]:
    params: dict[str, Any] = {
        "from": email.from_email,
        "to": [email.to],
        "subject": email.subject,
        "html": email.html,
        "text": email.text,
        "headers": dict(email.headers),
    }
    if email.tags:
        params["tags"] = [{"name": k, "value": v} for k, v in email.tags.items()]
    return params


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
