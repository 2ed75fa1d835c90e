"""POST /webhooks/resend: Svix-signed provider events (delivered, bounced, complained)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from digest import webhooks
from digest.db import session_scope
from digest.errors import InvalidInput
from digest.web.deps import BodyTooLarge, SettingsDep, get_engine, now, read_body

router = APIRouter(tags=["webhooks"])
MAX_WEBHOOK_BYTES = 256 * 1024


@router.post("/webhooks/resend")
async def resend_webhook(request: Request, settings: SettingsDep) -> JSONResponse:
    """400 and no change for a bad, missing or stale signature or a malformed body."""
    if (
        settings.resend_webhook_secret is None
        or not settings.resend_webhook_secret.get_secret_value()
    ):
        return JSONResponse(
            {"error": "webhooks are not configured: set RESEND_WEBHOOK_SECRET"}, status_code=503
        )
    try:
        body = await read_body(request, MAX_WEBHOOK_BYTES)
    except BodyTooLarge:
        return JSONResponse({"error": "body too large"}, status_code=413)
    moment = now()
    try:
        secret = settings.resend_webhook_secret.get_secret_value()
        svix_id = webhooks.verify_signature(secret, request.headers, body, now=moment)
        event = webhooks.parse_event(svix_id, body)
    except InvalidInput as exc:
        return JSONResponse({"error": exc.problems[0][1]}, status_code=400)
    # In a worker thread: a storm of events is applied side by side (PostgreSQL) instead of
    # one at a time on the event loop, which also keeps the loop free for the other routes.
    outcome = await run_in_threadpool(
        apply, get_engine(request), event, now=moment, soft_limit=settings.bounce_soft_limit
    )
    return JSONResponse({"status": "ok", "outcome": outcome})


def apply(engine: Engine, event: webhooks.DeliveryEvent, *, now: datetime, soft_limit: int) -> str:
    with session_scope(engine) as session:
        return webhooks.apply_event(session, event, now=now, soft_limit=soft_limit)
