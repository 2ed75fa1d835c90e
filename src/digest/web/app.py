"""create_app(settings): the one ASGI app; routers live one concern per module beside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from digest import migrate
from digest.config import Settings, Switch
from digest.db import check_database, make_engine
from digest.transports import make_transport
from digest.web import (
    api,
    archive,
    click_figures,
    clicks,
    desk,
    desk_actions,
    desk_readers,
    editor,
    editor_accounts,
    editor_auth,
    editor_login,
    embed,
    fallback,
    guard,
    reader_data,
    reader_link,
    signup,
    site,
    subscription,
    webhooks,
)
from digest.web.deps import BodyTooLarge, RequestTimeout, now
from digest.web.hit_writer import HitWriter
from digest.web.mail_retry import retry_pending_mail
from digest.web.signup_writer import SignupWriter


def create_app(settings: Settings) -> FastAPI:
    """The app, with its composition root: one engine and one transport for its lifetime."""
    # Pooled: a page read no longer opens a SQLite file and runs its PRAGMAs (issue 14). The
    # app is built in the process that serves it (after the fork with --workers).
    engine = make_engine(settings.database_url, pooled=True)
    transport = make_transport(settings)
    hits = HitWriter(engine, settings)
    signups = SignupWriter(engine, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # SQLite checkpoints its WAL whenever the last connection closes: one idle connection
        # held for the app's life keeps that from happening after a quiet moment (issue 15).
        keeper = engine.connect() if engine.dialect.name == "sqlite" else None
        hits.start()
        # Off: signups are only stored here; `digest worker` acts on them in its own process.
        mail_retry = (
            asyncio.create_task(
                retry_pending_mail(engine, settings, transport, wake=app.state.reader_work)
            )
            if settings.web_sends_mail is Switch.ON
            else None
        )
        tallies = asyncio.create_task(desk.keep_tallies(engine))
        yield
        tallies.cancel()
        if mail_retry is not None:
            mail_retry.cancel()
        hits.stop()
        signups.stop()
        if keeper is not None:
            keeper.close()
        transport.close()
        engine.dispose()

    # No /openapi.json either: the API is private, its schema is nobody else's business.
    # No slash redirects by the framework: it builds them from the Host header (fallback.py).
    app = FastAPI(
        title=settings.newsletter_name,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.transport = transport
    app.state.schema_current = False
    app.state.hits = hits
    app.state.clock = now  # tests set their own to replay hits at chosen moments
    app.state.reader_work = asyncio.Event()  # set by a handler that stored a reader request
    app.state.signups = signups
    # First: load balancers ask it every few seconds, and routes are matched in order.
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    app.include_router(api.router)
    app.include_router(click_figures.router)
    app.include_router(clicks.router)
    app.include_router(signup.router)
    app.include_router(embed.router)
    app.include_router(subscription.router)
    app.include_router(reader_data.router)
    app.include_router(webhooks.router)
    app.include_router(archive.router)
    app.include_router(editor_login.router)
    app.include_router(editor.router)
    app.include_router(desk.router)
    app.include_router(desk_readers.router)
    app.include_router(desk_actions.router)
    app.include_router(editor_accounts.router)
    app.include_router(site.router)
    app.add_exception_handler(reader_link.BadLink, reader_link.bad_link_page)
    app.add_exception_handler(editor_auth.EditorRefused, editor_auth.refusal)
    app.add_exception_handler(HTTPException, fallback.http_error)
    app.add_exception_handler(BodyTooLarge, guard.body_too_large)
    app.add_exception_handler(RequestTimeout, guard.read_timed_out)
    app.add_exception_handler(ClientDisconnect, guard.client_gone)
    app.add_middleware(guard.EmbedCORS, settings=settings)
    app.add_middleware(guard.RequestGuard, settings=settings)
    return app


def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and its schema is one this code can use; 503 otherwise
    (for load balancers and uptime checks). `schema` says where it stands: current, behind,
    ahead, missing (never migrated) or unversioned (made without Alembic)."""
    state = request.app.state
    try:
        check_database(state.engine)
        # Once current, a schema stays so for this process (a deploy restarts it).
        schema = migrate.SchemaState.CURRENT if state.schema_current else None
        schema = schema or migrate.schema_state(state.engine)
    except SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    state.schema_current = schema is migrate.SchemaState.CURRENT
    body = {"status": "ok" if schema.usable else "error", "database": "ok", "schema": schema}
    return JSONResponse(body, status_code=200 if schema.usable else 503)
