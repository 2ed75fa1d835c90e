"""create_app(settings): the one ASGI app; routers live one concern per module beside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from digest.config import Settings
from digest.db import check_database, make_engine
from digest.transports import make_transport
from digest.web import (
    api,
    archive,
    editor,
    editor_auth,
    reader_link,
    signup,
    site,
    subscription,
    webhooks,
)
from digest.web.mail_retry import retry_pending_mail


def create_app(settings: Settings) -> FastAPI:
    """The app, with its composition root: one engine and one transport for its lifetime."""
    engine = make_engine(settings.database_url)
    transport = make_transport(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        mail_retry = asyncio.create_task(retry_pending_mail(engine, settings, transport))
        yield
        mail_retry.cancel()
        transport.close()
        engine.dispose()

    # No /openapi.json either: the API is private, its schema is nobody else's business.
    app = FastAPI(
        title=settings.newsletter_name,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.transport = transport
    app.include_router(api.router)
    app.include_router(signup.router)
    app.include_router(subscription.router)
    app.include_router(webhooks.router)
    app.include_router(archive.router)
    app.include_router(editor.router)
    app.include_router(site.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    app.add_exception_handler(reader_link.BadLink, reader_link.bad_link_page)
    app.add_exception_handler(editor_auth.EditorRefused, editor_auth.refusal)
    app.add_exception_handler(HTTPException, site.not_found)
    return app


def healthz(request: Request) -> JSONResponse:
    """200 when the database answers; 503 otherwise (for load balancers and uptime checks)."""
    try:
        check_database(request.app.state.engine)
    except SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
