"""GET /api/issues/{number}/clicks (bearer DIGEST_API_TOKEN): an issue's click figures as
JSON, for the editor's desk and scripts. Windows that are due are closed first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from digest import clicks
from digest.db import session_scope
from digest.delivery import issue_by_number
from digest.errors import NotFound
from digest.web.bearer import Bearer, check_bearer, retry_after
from digest.web.deps import SettingsDep, get_engine

router = APIRouter(prefix="/api", tags=["api"])
MAX_NUMBER = 10**9


@router.get("/issues/{number}/clicks")
def issue_clicks(request: Request, number: str, settings: SettingsDep) -> JSONResponse:
    if settings.api_token is None:
        return _error(401, "the API is disabled: set DIGEST_API_TOKEN on the server")
    bearer = check_bearer(request)
    if bearer is Bearer.BLOCKED:
        return _error(429, "too many wrong tokens from your address; try again later")
    if bearer is not Bearer.GOOD:
        return _error(401, "missing or wrong bearer token")
    if not number.isascii() or not number.isdigit() or int(number) > MAX_NUMBER:
        return _error(404, "no such issue")
    request.app.state.hits.flush()  # the hits of the last moment count too
    with session_scope(get_engine(request)) as session:
        clicks.close_due_windows(session, now=request.app.state.clock())
        try:
            issue = issue_by_number(session, int(number))
        except NotFound:
            return _error(404, "no such issue")
        assert issue.id is not None
        figures = clicks.issue_click_figures(session, issue.id)
    return JSONResponse({"issue": int(number), **figures.as_dict()})


def _error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        headers = {"Retry-After": retry_after()}
    return JSONResponse({"error": message}, status_code=status, headers=headers)
