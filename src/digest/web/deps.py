"""Request-scoped helpers shared by the routers: settings, the engine, read sessions, the
transport, bounded bodies and the time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import anyio.from_thread
from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest.config import Settings
from digest.db import session_scope
from digest.transports import Transport


class BodyTooLarge(Exception):
    """The request body is over the configured limit."""


class RequestTimeout(Exception):
    """The request body did not arrive within DIGEST_REQUEST_READ_TIMEOUT."""


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_transport(request: Request) -> Transport:
    """The app's one transport, built by `create_app` and closed when the app stops."""
    transport: Transport = request.app.state.transport
    return transport


def get_read_session(request: Request) -> Iterator[Session]:
    with session_scope(get_engine(request), read_only=True) as session:
        yield session


def wake_reader_work(request: Request) -> None:
    """Wake the reader-work loop (mail_retry.py) from a route, on the loop or in a worker
    thread: an asyncio.Event may only be set on its own loop's thread."""
    wake = getattr(request.app.state, "reader_work", None)
    if wake is None:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # a worker thread (sync route or run_in_threadpool): hand it over
        anyio.from_thread.run_sync(wake.set)
        return
    wake.set()


def now() -> datetime:
    """The request's "now"; the one place the web edge reads the clock."""
    return datetime.now(UTC)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing anything over `limit` bytes without reading it all into memory."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


async def _settings_for_route(request: Request) -> Settings:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, so every
    # route taking SettingsDep paid a thread hop (and a wait for a free thread under load) for
    # what is one attribute read (the tracked-link redirect is async to avoid exactly that).
    return get_settings_dep(request)


SettingsDep = Annotated[Settings, Depends(_settings_for_route)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
