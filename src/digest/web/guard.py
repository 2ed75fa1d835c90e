"""The edge every request crosses first (a pure ASGI middleware): bounded bodies, a read
deadline, and the headers every answer carries.

- Each route has a body limit (`body_limit`): a declared Content-Length past it, or any body
  at all on a route that takes none, is answered 413 before a byte of the body is read. The
  limit also caps what a chunked body may stream (`BodyTooLarge` from `receive`).
- The whole body must arrive within DIGEST_REQUEST_READ_TIMEOUT of the request (408 after).
- An answer sent before the body was read through closes the connection (`Connection: close`):
  the rest is never read, so a client cannot make us buffer or drain it.
- HSTS on every answer when DIGEST_BASE_URL is https.

`EmbedCORS` lets pages of DIGEST_SITE_URL (the comparison site's own signup box) call
GET /subscribe/stamp and POST /subscribe from the browser: those two addresses only, no
cookies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware

from digest.config import Settings
from digest.web.deps import BodyTooLarge, RequestTimeout
from digest.web.forms import IMPORT_PATH, MAX_EDITOR_FORM_BYTES, MAX_FORM_BYTES, MAX_IMPORT_BYTES
from digest.web.webhooks import MAX_WEBHOOK_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE", "CONNECT"})
HSTS = "max-age=31536000"


def body_limit(settings: Settings, method: str, path: str) -> int:
    """The most body bytes a request to `path` may carry (0: it takes none)."""
    if method in NO_BODY_METHODS:
        return 0
    if path == "/api/comparisons":
        return settings.api_max_body_bytes
    if path == "/webhooks/resend":
        return MAX_WEBHOOK_BYTES
    if path == IMPORT_PATH:
        return MAX_IMPORT_BYTES
    if path.startswith("/editor/"):
        return MAX_EDITOR_FORM_BYTES
    return MAX_FORM_BYTES


class RequestGuard:
    """Wraps the app: see the module docstring."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hsts = settings.base_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope["method"], scope["path"])
        declared, chunked = _framing(scope)
        body = _Body(receive, limit, self.settings.request_read_timeout)
        body.complete = not chunked and not declared.strip("0")  # no body at all
        respond = self._sender(send, body)
        refusal = _refuse_early(declared, chunked, limit, _json_wanted(scope))
        if refusal is not None:
            await refusal(scope, body.receive, respond)
            return
        await self.app(scope, body.receive, respond)

    def _sender(self, send: Send, body: _Body) -> Send:
        async def respond(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if self.hsts:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                if not body.complete:
                    headers.append((b"connection", b"close"))
                message["headers"] = headers
            await send(message)

        return respond


def _json_wanted(scope: Scope) -> bool:
    """Answer in JSON: the API, the webhook, or a client that sent JSON."""
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return scope["path"].startswith(("/api/", "/webhooks/")) or content_type == b"application/json"


def _framing(scope: Scope) -> tuple[str, bool]:
    """The declared Content-Length ("" if none) and whether the body is chunked (h11 has
    already refused a malformed or contradictory framing)."""
    headers = dict(scope.get("headers") or [])
    declared = headers.get(b"content-length", b"").decode("latin-1").strip()
    return declared, b"chunked" in headers.get(b"transfer-encoding", b"").lower()


def _refuse_early(declared: str, chunked: bool, limit: int, as_json: bool) -> Response | None:
    """413 for a declared body over the limit, or any body where none is taken."""
    # The length of the digits first: int() of 4301 digits raises instead of comparing.
    digits = declared.lstrip("0") if declared.isascii() and declared.isdigit() else ""
    over = len(digits) > 18 or (digits != "" and int(digits) > limit)
    return too_large(limit, as_json) if over or (limit == 0 and chunked) else None


class _Body:
    """The request's `receive`, counting bytes against the limit and the read deadline."""

    def __init__(self, receive: Receive, limit: int, timeout: float) -> None:
        self._receive = receive
        self._limit = limit
        self._deadline = asyncio.get_running_loop().time() + timeout
        self._size = 0
        self.complete = False

    async def receive(self) -> Message:
        if self.complete:  # after the body: waiting for a disconnect is no read
            return await self._receive()
        remaining = self._deadline - asyncio.get_running_loop().time()
        try:
            message = await asyncio.wait_for(self._receive(), max(remaining, 0.001))
        except TimeoutError:
            raise RequestTimeout() from None
        if message["type"] == "http.request":
            self._size += len(message.get("body", b""))
            if self._size > self._limit:
                raise BodyTooLarge()
            self.complete = not message.get("more_body", False)
        return message


def too_large(limit: int, as_json: bool) -> Response:
    if limit == 0:
        return _answer(413, "this address takes no request body", as_json)
    return _answer(413, f"the request body is larger than {limit} bytes", as_json)


def too_slow(as_json: bool) -> Response:
    return _answer(408, "the request body did not arrive in time", as_json)


def _answer(status: int, message: str, as_json: bool) -> Response:
    if as_json:
        return JSONResponse({"error": message}, status_code=status)
    text = message[:1].upper() + message[1:] + "."
    return Response(text, status_code=status, media_type="text/plain; charset=utf-8")


def body_too_large(request: Request, _exc: Exception) -> Response:
    """The app's answer to a BodyTooLarge no route caught."""
    limit = body_limit(request.app.state.settings, request.method, request.url.path)
    return too_large(limit, _json_wanted(request.scope))


def read_timed_out(request: Request, _exc: Exception) -> Response:
    return too_slow(_json_wanted(request.scope))


def client_gone(_request: Request, _exc: Exception) -> Response:
    """The client hung up while sending its body: nobody reads an answer; no traceback."""
    return Response(status_code=400)


EMBED_PATHS = frozenset({"/subscribe", "/subscribe/stamp"})


class EmbedCORS:
    """CORS for DIGEST_SITE_URL's origin on EMBED_PATHS; every other address has none."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        parts = urlsplit(settings.site_url)
        self.cors = CORSMiddleware(
            app,
            allow_origins=[f"{parts.scheme}://{parts.netloc}"],
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in EMBED_PATHS:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
