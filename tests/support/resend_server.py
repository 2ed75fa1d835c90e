"""A fake Resend HTTP API (`POST /emails/batch`) that behaves like the real one where it matters.

- Idempotency-Key: the same key and payload answer the first answer again and send nothing new;
  the same key with another payload is 409 invalid_idempotent_request; the same key while the
  first request is still being processed is 409 concurrent_idempotent_requests.
- Rate limit (token bucket, `rate_limit` requests/s) with `retry-after` and `ratelimit-*` headers.
- Batch validation: at most 100 emails; strict (422 for the whole batch) or permissive (an
  `errors` list by index; ids in `data` for the valid ones, in order).
- A quota of accepted emails (429 daily_quota_exceeded once spent).
- Injectable faults: an HTTP status (after `seconds`), a dropped connection before or after the
  batch is accepted, a slow answer; and a per-request `delay` for every request. Delays and slow
  answers happen while the idempotency key is in flight, so concurrent requests meet the 409.
- `GET /domains` (what `digest doctor` and the pre-send check use to prove the key): the list,
  or 401 restricted_api_key for a sending-only key (`sending_only=True`), 403 for a wrong key.
  These probes are counted in `probes`, not in `statuses`.
- Answers that lie (the batch is processed and its answer stored under the key, then distorted):
  "not_json" a 200 whose body is not JSON; "fewer_ids" a 200 with one id fewer than emails;
  "reset_after_headers" the status line and headers, half the body, then a TCP reset. And
  "bare_429": a 429 with no `retry-after` or rate-limit headers, processing nothing.

Run it in a thread (`with FakeResend() as fake:`) or as a process (`python -m tests.support.resend_server`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIES = ("not_json", "fewer_ids", "reset_after_headers", "bare_429")
ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
MAX_BATCH = 100


@dataclass
class Fault:
    kind: str  # "status" | "drop_before" | "drop_after" | "slow" | a lie (LIES)
    status: int = 500
    seconds: float = 0.0


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate, self.capacity = rate, max(1.0, rate)
        self.tokens, self.stamp = self.capacity, time.monotonic()

    def take(self) -> float:
        """0 if a token was taken, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class FakeResend:
    def __init__(
        self,
        *,
        api_key: str = "re_test_key",
        rate_limit: float | None = None,
        quota: int | None = None,
        delay: float = 0.0,
        sending_only: bool = False,
    ) -> None:
        self.api_key = api_key
        self.sending_only = sending_only
        self.probes = 0  # GET /domains requests
        self.delay = delay
        self.quota = quota
        self.bucket = TokenBucket(rate_limit) if rate_limit else None
        self.rate_limit = rate_limit
        self.accepted: list[dict[str, Any]] = []
        self.statuses: Counter[int] = Counter()
        self.connections: set[tuple[str, int]] = set()  # client (host, port) pairs seen
        self.in_flight = 0  # requests being answered right now
        self.key_requests: Counter[str] = Counter()  # requests per idempotency key
        self.faults: deque[Fault] = deque()
        # Once this many emails were accepted, every further one is refused as a hard bounce
        # (permissive validation's per-email errors): a list that has gone bad. None: never.
        self.bounce_after: int | None = None
        self.bounced: list[str] = []
        self.spared: set[str] = set()  # addresses that never bounce (the editors' own)
        self.keys: dict[str, tuple[str, Answer | None]] = {}
        self.lock = threading.Lock()
        self.arrived = 0  # POST requests received so far, answered or not
        self.arrivals = threading.Condition(self.lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeResend:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for_arrivals(self, count: int, *, until: Callable[[], bool]) -> bool:
        """Wait until `count` POST requests have arrived (True), or `until()` holds (False).

        Tests wait on the client's progress this way, never on wall time."""
        with self.arrivals:
            while self.arrived < count:
                if until():
                    return False
                self.arrivals.wait(0.05)
        return True

    def inject(self, kind: str, *, count: int = 1, status: int = 500, seconds: float = 0.0) -> None:
        with self.lock:
            self.faults.extend(Fault(kind, status, seconds) for _ in range(count))

    # What arrived ---------------------------------------------------------------------------

    def recipients(self) -> Counter[str]:
        with self.lock:
            return Counter(address for email in self.accepted for address in email["to"])

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [to_message(email) for email in self.accepted]

    # The API --------------------------------------------------------------------------------

    def handle(self, headers: dict[str, str], raw: bytes, *, hold: float = 0.0) -> Answer:
        """Answer one batch request; `hold` seconds pass while it is processed (half before
        the emails are accepted, half after), with its idempotency key in flight."""
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return error(403, "invalid_api_key", "API key is invalid")
        limited = self._rate_limited()
        if limited is not None:
            return limited
        try:
            payload = json.loads(raw)
        except ValueError:
            return error(400, "validation_error", "body is not JSON")
        mode = headers.get("x-batch-validation", "strict")
        key = headers.get("idempotency-key")
        if key is not None:
            with self.lock:
                self.key_requests[key] += 1
        if key is None:
            return self._slowly(payload, mode, hold)
        return self._idempotent(key, fingerprint(payload, mode), payload, mode, hold)

    def _slowly(self, payload: Any, mode: str, hold: float) -> Answer:
        time.sleep(hold / 2)
        answer = self._process(payload, mode)
        time.sleep(hold / 2)
        return answer

    def _idempotent(self, key: str, print_: str, payload: Any, mode: str, hold: float) -> Answer:
        with self.lock:
            known = self.keys.get(key)
            if known is not None:
                if known[0] != print_:
                    return error(409, "invalid_idempotent_request", "key used with another payload")
                if known[1] is None:
                    return error(409, "concurrent_idempotent_requests", "same key in flight")
                return known[1]
            self.keys[key] = (print_, None)
        answer = self._slowly(payload, mode, hold)
        with self.lock:
            if answer.status == 200:
                self.keys[key] = (print_, answer)
            else:
                del self.keys[key]
        return answer

    def _process(self, payload: Any, mode: str) -> Answer:
        if not isinstance(payload, list) or not 1 <= len(payload) <= MAX_BATCH:
            return error(422, "validation_error", f"send between 1 and {MAX_BATCH} emails")
        problems = {i: p for i, email in enumerate(payload) if (p := invalid(email))}
        problems.update(self._bounces(payload, problems))
        if problems and mode != "permissive":
            first = min(problems)
            return error(422, "validation_error", f"emails[{first}]: {problems[first]}")
        valid = [email for i, email in enumerate(payload) if i not in problems]
        with self.lock:
            if self.quota is not None and len(self.accepted) + len(valid) > self.quota:
                return error(429, "daily_quota_exceeded", "You have reached your daily quota")
            ids = [str(uuid.uuid4()) for _ in valid]
            for email, email_id in zip(valid, ids, strict=True):
                to = email["to"] if isinstance(email["to"], list) else [email["to"]]
                self.accepted.append({**email, "to": to, "id": email_id, "at": time.time()})
        body: dict[str, Any] = {"data": [{"id": i} for i in ids]}
        if mode == "permissive":
            body["errors"] = [{"index": i, "message": m} for i, m in sorted(problems.items())]
        return Answer(200, body)

    def _bounces(self, payload: list[Any], problems: dict[int, str]) -> dict[int, str]:
        with self.lock:
            if self.bounce_after is None or len(self.accepted) < self.bounce_after:
                return {}
            refused = {
                i: "mailbox does not exist"
                for i, email in enumerate(payload)
                if i not in problems and not set(_to(email)) & self.spared
            }
            self.bounced.extend(str(payload[i].get("to")) for i in refused)
            return refused

    def _rate_limited(self) -> Answer | None:
        if self.bucket is None:
            return None
        with self.lock:
            wait = self.bucket.take()
            remaining = int(self.bucket.tokens)
        headers = {
            "ratelimit-limit": f"{self.rate_limit:g}",
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(math.ceil(wait)) if wait else "1",
            "ratelimit-policy": f"{self.rate_limit:g};w=1",
        }
        if not wait:
            return None
        answer = error(429, "rate_limit_exceeded", "Too many requests")
        answer.headers = {**headers, "retry-after": str(max(1, math.ceil(wait)))}
        return answer

    def rate_headers(self) -> dict[str, str]:
        if self.bucket is None:
            return {}
        return {
            "ratelimit-limit": f"{self.rate_limit:g}",
            "ratelimit-policy": f"{self.rate_limit:g};w=1",
        }

    def next_fault(self) -> Fault | None:
        with self.lock:
            return self.faults.popleft() if self.faults else None


def _to(email: Any) -> list[str]:
    to = email.get("to") if isinstance(email, dict) else None
    return to if isinstance(to, list) else [str(to)]


def invalid(email: Any) -> str | None:
    if not isinstance(email, dict):
        return "must be an object"
    for name in ("from", "to", "subject"):
        if not email.get(name):
            return f"`{name}` is required"
    if not (email.get("html") or email.get("text")):
        return "`html` or `text` is required"
    to = email["to"] if isinstance(email["to"], list) else [email["to"]]
    bad = [a for a in to if not isinstance(a, str) or not ADDRESS.match(a)]
    return f"Invalid `to` field: {bad[0]!r}" if bad else None


def fingerprint(payload: Any, mode: str) -> str:
    canonical = json.dumps([payload, mode], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def error(status: int, name: str, message: str) -> Answer:
    return Answer(status, {"statusCode": status, "name": name, "message": message})


def to_message(email: dict[str, Any]) -> EmailMessage:
    """What a recipient would see (for contract tests that read real messages): the provider
    builds a MIME message from the payload (here with Python's email package, which decodes
    encoded-words it is given) and the recipient parses its bytes."""
    message = EmailMessage()
    message["From"] = email["from"]
    message["To"] = ", ".join(email["to"])
    message["Subject"] = email["subject"]
    message["X-Resend-Id"] = email["id"]
    for name, value in (email.get("headers") or {}).items():
        message[name] = value
    for tag in email.get("tags") or []:
        message[f"X-Tag-{tag['name']}"] = tag["value"]
    message.set_content(email.get("text") or "", subtype="plain", charset="utf-8")
    message.add_alternative(email.get("html") or "", subtype="html", charset="utf-8")
    received = message_from_bytes(message.as_bytes(), policy=default)
    assert isinstance(received, EmailMessage)
    return received


def _json(answer: Answer) -> bytes:
    return json.dumps(answer.body).encode()


def _handler_for(fake: FakeResend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the SDK sends "{}"
            if self.path == "/domains":
                return self._probe()
            if self.path != "/_stats":
                return self._send(error(404, "not_found", "no such endpoint"))
            counts = fake.recipients()
            stats = {
                "accepted": len(fake.accepted),
                "recipients": len(counts),
                "most_per_recipient": max(counts.values(), default=0),
                "statuses": {str(k): v for k, v in fake.statuses.items()},
            }
            self._send(Answer(200, stats))

        def do_POST(self) -> None:
            with fake.lock:
                fake.in_flight += 1
                fake.arrived += 1
                fake.arrivals.notify_all()
            try:
                self._answer()
            finally:
                with fake.lock:
                    fake.in_flight -= 1

        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with fake.lock:
                fake.connections.add(self.client_address[:2])
            fault = fake.next_fault()
            if fault and fault.kind == "drop_before":
                return self._drop()
            if fault and fault.kind == "status":
                time.sleep(fault.seconds)
                return self._send(error(fault.status, "application_error", "injected fault"))
            if fault and fault.kind == "bare_429":  # nothing processed, and no hint when to retry
                return self._send(error(429, "rate_limit_exceeded", "Too many requests"), bare=True)
            if self.path != "/emails/batch":
                return self._send(error(404, "not_found", "no such endpoint"))
            # The whole time spent answering (the delay, a slow fault) is inside the window
            # in which the idempotency key is in flight, as at the real provider.
            hold = fake.delay + (fault.seconds if fault and fault.kind == "slow" else 0.0)
            answer = fake.handle({k.lower(): v for k, v in self.headers.items()}, raw, hold=hold)
            if fault and fault.kind == "drop_after":
                return self._drop()
            if fault and fault.kind in LIES:
                return self._lie(fault.kind, answer)
            self._send(answer)

        def _probe(self) -> None:
            with fake.lock:
                fake.probes += 1
            if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                return self._send(error(403, "invalid_api_key", "API key is invalid"), count=False)
            if fake.sending_only:
                answer = error(401, "restricted_api_key", "This API key can only send emails")
                return self._send(answer, count=False)
            self._send(Answer(200, {"object": "list", "data": []}), count=False)

        def _lie(self, kind: str, answer: Answer) -> None:
            if answer.status != 200:
                return self._send(answer)
            if kind == "fewer_ids":
                return self._send(Answer(200, {**answer.body, "data": answer.body["data"][:-1]}))
            body = b"<html>502 Bad Gateway</html>" if kind == "not_json" else _json(answer)
            with fake.lock:
                fake.statuses[200] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if kind == "not_json":
                self.wfile.write(body)
                return None
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            # SO_LINGER 0: close() sends a TCP reset instead of an orderly FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return self._drop()

        def _send(self, answer: Answer, *, count: bool = True, bare: bool = False) -> None:
            data = _json(answer)
            with fake.lock:
                if count:
                    fake.statuses[answer.status] += 1
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                extra = {} if bare else {**fake.rate_headers(), **answer.headers}
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True  # the client went away (killed): nothing to do

        def _drop(self) -> None:
            self.close_connection = True
            self.connection.close()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read the counters instead."""

    return Handler


def main() -> None:
    """Serve until killed; print the URL first (bench/send.py runs it as its own process)."""
    import argparse

    parser = argparse.ArgumentParser(description="A fake Resend API on 127.0.0.1")
    parser.add_argument("--rate-limit", type=float, default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--api-key", default="re_test_key")
    args = parser.parse_args()
    fake = FakeResend(api_key=args.api_key, rate_limit=args.rate_limit, delay=args.delay)
    print(fake.url, flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
