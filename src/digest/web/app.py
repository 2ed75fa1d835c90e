"""create_app(settings): the one ASGI app; routers live one concern per module beside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from digest.config import Settings
from digest.db import check_database, make_engine
from digest.web import api, archive, editor, hooks, public, reader
from digest.web.background import retry_pending_mail


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        mail_retry = asyncio.create_task(retry_pending_mail(engine, settings))
        yield
        mail_retry.cancel()
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
    app.include_router(api.router)
    app.include_router(public.router)
    app.include_router(reader.router)
    app.include_router(hooks.router)
    app.include_router(archive.router)
    app.include_router(editor.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    return app


def healthz(request: Request) -> JSONResponse:
    """200 when the database answers; 503 otherwise (for load balancers and uptime checks)."""
    try:
        check_database(request.app.state.engine)
    except SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
