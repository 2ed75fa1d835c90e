"""`digest serve --workers N`: N processes answering on one listening socket.

The parent binds the socket, forks the workers and then only waits: it holds no app, no engine
and no connection, so nothing half-used crosses a fork. Each worker builds its own app (its
engine, transport and background loops: they claim their work in the store, so N of them
share it safely) and runs uvicorn on the inherited socket; the kernel hands each new connection
to one of them. SIGTERM or SIGINT to the parent stops every worker gracefully and the parent
exits 0; a worker that dies on its own stops the others and the parent exits 1, for the
service manager to restart the whole (a half-sized server is not quietly kept).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import traceback
from types import FrameType

import uvicorn

from digest.config import Settings

BACKLOG = 2048
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def most_workers() -> int:
    """The largest --workers that makes sense here: two per core, at most 32."""
    return min(2 * (os.cpu_count() or 1), 32)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP listening socket for host:port, made with its protocol number (IPPROTO_TCP), so
    the sockets it accepts are known as TCP to asyncio too."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(BACKLOG)
    return sock


def serve_workers(settings: Settings, *, host: str, port: int, workers: int) -> int:
    """Run `workers` processes on one socket until told to stop; the exit code."""
    sock = listening_socket(host, port)
    _say(f"Listening on {host}:{port} with {workers} worker processes (parent {os.getpid()})")
    # Signals wait until the handlers are in place: a SIGTERM between two forks must not kill
    # the parent and leave its first workers orphaned.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    children = {_fork_worker(settings, sock, host=host, port=port) for _ in range(workers)}
    code = _supervise(children)
    sock.close()
    return code


def _supervise(children: set[int]) -> int:
    stopping = False

    def stop(_signum: int = 0, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _signal_quietly(pid)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    failed = False
    while children:
        pid, status = os.wait()
        children.discard(pid)
        if not stopping:
            _say(f"Worker {pid} ended on its own (wait status {status}); stopping the others")
            failed = True
            stop()
    return 1 if failed else 0


def _say(line: str) -> None:
    """The parent's few lines (uvicorn's logging is set up in the workers, not here)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _signal_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: reaped next
        os.kill(pid, signal.SIGTERM)


def _fork_worker(settings: Settings, sock: socket.socket, *, host: str, port: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        code = _run_worker(settings, sock, host=host, port=port)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)  # never back into the parent's code (its Typer command, its atexit)


def _run_worker(settings: Settings, sock: socket.socket, *, host: str, port: int) -> int:
    from digest.web.server import uvicorn_config

    config = uvicorn_config(settings, host=host, port=port, with_pid=True)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 3
