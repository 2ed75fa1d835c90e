"""How the app is served: the uvicorn configuration `digest serve` (and the tests) use.

- Proxy headers are off in uvicorn: it would believe X-Forwarded-For from 127.0.0.1 (its
  default `forwarded_allow_ips`) and rewrite the client address and scheme. `client.py` reads
  X-Forwarded-For itself, and only from DIGEST_TRUSTED_PROXIES.
- Slow clients cannot hold a connection: the request line and headers must arrive within
  DIGEST_REQUEST_READ_TIMEOUT of the connection (or of the previous answer), or the connection
  is closed (`HeaderDeadline`; uvicorn has no such timeout of its own); the body has the same
  deadline (`guard.py`); an idle keep-alive connection closes after KEEP_ALIVE seconds.
- Every connection gets TCP_NODELAY. asyncio sets it only on sockets whose protocol number
  says TCP; a listening socket made as `socket.socket(family)` (uvicorn's own for --workers)
  says 0, and without it each small answer waited ~40 ms for the client's delayed ACK.
- The GIL switch interval is 1 ms (`GIL_SWITCH_SECONDS`), not 5.
- `--workers N` (workers.py) forks N processes that share one listening socket; each builds
  its own app, engine and background loops after the fork.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from digest.config import Settings
from digest.web.access_log import log_config
from digest.web.app import create_app

KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open
MAX_HEADER_BYTES = 16 * 1024  # request line and headers; h11 answers 400 beyond
# The event loop gives up the GIL at every socket write; a store thread (the signup writer,
# the thread pool) then keeps it for up to the switch interval, 5 ms by default, before the
# loop answers the next request. 1 ms: signups' p99 124 -> 45 ms, +20% of them (issue 14).
GIL_SWITCH_SECONDS = 0.001


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose next request's headers are late."""

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _no_delay(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        cycle = self.cycle  # the request before the one whose headers are awaited
        self._header_timer = self.loop.call_later(self.header_timeout, self._overdue, cycle)

    def _overdue(self, cycle: object) -> None:
        waiting = self.cycle is cycle and self.conn.their_state is h11.IDLE
        if waiting and not self.transport.is_closing():
            self.timeout_keep_alive_handler()  # closes the connection


def _no_delay(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def protocol_for(settings: Settings) -> type[HeaderDeadline]:
    return type(
        "HeaderDeadline", (HeaderDeadline,), {"header_timeout": settings.request_read_timeout}
    )


def uvicorn_config(
    settings: Settings, *, host: str, port: int, with_pid: bool = False, **overrides: Any
) -> uvicorn.Config:
    """The app under uvicorn, as `digest serve` runs it (`with_pid`: access lines say which
    worker process answered)."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": protocol_for(settings),
        "proxy_headers": False,
        "timeout_keep_alive": KEEP_ALIVE,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "log_config": log_config(
            with_pid=with_pid
        ),  # never-expiring link tokens stay out of the access log
        **overrides,
    }
    return uvicorn.Config(create_app(settings), **options)


def serve(settings: Settings, *, host: str, port: int, workers: int = 1) -> int:
    """Serve until stopped; the exit code. One worker: this process; more: workers.py."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)  # forked workers inherit it
    if workers > 1:
        from digest.web.workers import serve_workers

        return serve_workers(settings, host=host, port=port, workers=workers)
    uvicorn.Server(uvicorn_config(settings, host=host, port=port)).run()
    return 0
