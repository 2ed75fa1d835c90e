"""JSON API for the comparison site (bearer DIGEST_API_TOKEN): POST /api/comparisons, and
GET /api/stats, the desk's figures (issues, the weekly growth series, list health)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from digest import catalog, stats
from digest.config import Settings
from digest.db import session_scope
from digest.errors import InvalidInput
from digest.web.bearer import Bearer, check_bearer, retry_after
from digest.web.deps import BodyTooLarge, SettingsDep, get_engine, now, read_body

router = APIRouter(prefix="/api", tags=["api"])


def error_json(status: int, message: str, **extra: object) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        headers = {"Retry-After": retry_after()}
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def bearer_refusal(request: Request, settings: Settings) -> JSONResponse | None:
    """The answer for a request without the right bearer token; None when it has it."""
    if settings.api_token is None:
        return error_json(401, "the API is disabled: set DIGEST_API_TOKEN on the server")
    bearer = check_bearer(request)  # a store write: async routes call this in a thread
    if bearer is Bearer.BLOCKED:
        return error_json(429, "too many wrong tokens from your address; try again later")
    if bearer is not Bearer.GOOD:
        return error_json(401, "missing or wrong bearer token")
    return None


@router.post("/comparisons")
async def post_comparisons(request: Request, settings: SettingsDep) -> JSONResponse:
    """Import comparisons (same JSON as the import file); all-or-nothing, upsert by slug."""
    # The bearer check writes to the store: off the event loop.
    refused = await run_in_threadpool(bearer_refusal, request, settings)
    if refused is not None:
        return refused
    try:
        raw = await read_body(request, settings.api_max_body_bytes)
    except BodyTooLarge:
        return error_json(413, f"body is larger than {settings.api_max_body_bytes} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad JSON, or a 4300+ digit int
        return error_json(400, f"request body is not valid UTF-8 JSON: {exc}")
    except RecursionError:
        return error_json(400, "request body is nested too deeply")
    return await run_in_threadpool(_import, request, data)  # store work: off the loop


def _import(request: Request, data: object) -> JSONResponse:
    try:
        documents = [("request", catalog.validate_document("request", data))]
        with session_scope(get_engine(request)) as session:
            report = catalog.import_comparisons(session, documents, now=now())
    except InvalidInput as exc:
        problems = [{"loc": where, "msg": what} for where, what in exc.problems]
        return error_json(422, exc.message, problems=problems)
    return JSONResponse(
        {
            "created": report.comparisons_created,
            "updated": report.comparisons_updated,
            "slugs": report.slugs,
        }
    )


@router.get("/stats")
def get_stats(request: Request, settings: SettingsDep) -> JSONResponse:
    """The desk's figures: the last issues, the 12-week series and the list by status."""
    refused = bearer_refusal(request, settings)
    if refused is not None:
        return refused
    with session_scope(get_engine(request), read_only=True) as session:
        figures = stats.issue_figures(session)
        weeks = stats.growth_series(session, now=now(), tz=settings.tz)
        health = stats.list_health(session)
    body = {
        "generated_at": now().isoformat(),
        "timezone": settings.timezone,
        "complaint_limits": list(stats.COMPLAINT_LINES),
        "issues": [f.as_dict() for f in figures],
        "growth": [w.as_dict() for w in weeks],
        "list": health.as_dict(),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
