"""JSON API for the comparison site: POST /api/comparisons (bearer DIGEST_API_TOKEN)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from digest import catalog
from digest.db import session_scope
from digest.errors import InvalidInput
from digest.web.bearer import Bearer, check_bearer, retry_after
from digest.web.deps import BodyTooLarge, SettingsDep, get_engine, now, read_body

router = APIRouter(prefix="/api", tags=["api"])


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        headers = {"Retry-After": retry_after()}
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


@router.post("/comparisons")
async def post_comparisons(request: Request, settings: SettingsDep) -> JSONResponse:
    """Import comparisons (same JSON as the import file); all-or-nothing, upsert by slug."""
    if settings.api_token is None:
        return _error(401, "the API is disabled: set DIGEST_API_TOKEN on the server")
    bearer = await run_in_threadpool(check_bearer, request)  # a store write: off the loop
    if bearer is Bearer.BLOCKED:
        return _error(429, "too many wrong tokens from your address; try again later")
    if bearer is not Bearer.GOOD:
        return _error(401, "missing or wrong bearer token")
    try:
        raw = await read_body(request, settings.api_max_body_bytes)
    except BodyTooLarge:
        return _error(413, f"body is larger than {settings.api_max_body_bytes} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad JSON, or a 4300+ digit int
        return _error(400, f"request body is not valid UTF-8 JSON: {exc}")
    except RecursionError:
        return _error(400, "request body is nested too deeply")
    return await run_in_threadpool(_import, request, data)  # store work: off the loop


def _import(request: Request, data: object) -> JSONResponse:
    try:
        documents = [("request", catalog.validate_document("request", data))]
        with session_scope(get_engine(request)) as session:
            report = catalog.import_comparisons(session, documents, now=now())
    except InvalidInput as exc:
        problems = [{"loc": where, "msg": what} for where, what in exc.problems]
        return _error(422, exc.message, problems=problems)
    return JSONResponse(
        {
            "created": report.comparisons_created,
            "updated": report.comparisons_updated,
            "slugs": report.slugs,
        }
    )
