"""GET /api/issues/{number}/clicks (bearer DIGEST_API_TOKEN): an issue's click figures as
JSON, for the editor's desk and scripts. Windows that are due are closed first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from digest import clicks
from digest.db import session_scope
from digest.delivery import issue_by_number
from digest.errors import NotFound
from digest.web.api import bearer_refusal, error_json
from digest.web.deps import SettingsDep, get_engine

router = APIRouter(prefix="/api", tags=["api"])
MAX_NUMBER = 10**9


@router.get("/issues/{number}/clicks")
def issue_clicks(request: Request, number: str, settings: SettingsDep) -> JSONResponse:
    refused = bearer_refusal(request, settings)
    if refused is not None:
        return refused
    if not number.isascii() or not number.isdigit() or int(number) > MAX_NUMBER:
        return error_json(404, "no such issue")
    request.app.state.hits.flush()  # the hits of the last moment count too
    with session_scope(get_engine(request)) as session:
        clicks.close_due_windows(session, now=request.app.state.clock())
        try:
            issue = issue_by_number(session, int(number))
        except NotFound:
            return error_json(404, "no such issue")
        assert issue.id is not None
        figures = clicks.issue_click_figures(session, issue.id)
    return JSONResponse({"issue": int(number), **figures.as_dict()})
