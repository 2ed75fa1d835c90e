"""The front page and the two "give me mail" forms: GET /, POST /subscribe, GET|POST /preferences,
and GET /unsubscribe (where the archive's anonymous footer links lead).

Every accepted request gets the same answer whatever the address's state; the mail is sent
after the response by a background task (and by the retry loop if that fails).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.engine import Engine

from digest import issues
from digest.config import Settings
from digest.db import session_scope
from digest.errors import InvalidInput
from digest.models import ConsentRoute
from digest.readers import mail_queue, signup
from digest.transports import Transport
from digest.web import issue_page
from digest.web.deps import SettingsDep, get_engine, get_transport, now
from digest.web.forms import BadBody, read_fields, read_fields_and_lists, wants_json
from digest.web.pages import render_page

router = APIRouter(tags=["signup"])

ACCEPTED = "If that address can receive mail, a confirmation link is on its way."
log = logging.getLogger(__name__)


@router.get("/", response_class=HTMLResponse)
def front_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return _front(request, settings)


def _front(
    request: Request, settings: Settings, ticked: Sequence[str] = (), **context: Any
) -> HTMLResponse:
    with session_scope(get_engine(request), read_only=True) as session:
        latest = issues.latest_published(session)
        site = issue_page.front_context(session, settings, latest, ticked)
    stamp = signup.make_form_stamp(settings.secret, now=now())
    status = 400 if context.get("error") else 200
    values = {"latest": latest, "form_stamp": stamp, **site, **context}
    return render_page(request, "index.html", values, status_code=status)


@router.post("/subscribe")
async def subscribe(request: Request, settings: SettingsDep, tasks: BackgroundTasks) -> Response:
    """Form or JSON; the same answer for new, pending, confirmed, unsubscribed and blocked."""
    try:
        fields, lists, is_json = await read_fields_and_lists(request, frozenset({"topics"}))
    except BadBody as exc:
        return _bad_body(request, str(exc), is_json=wants_json(request))
    signup_request = _signup_request(request, fields, is_json=is_json)
    signup_request = replace(signup_request, topics=tuple(lists["topics"]))
    try:
        _run(request, settings, tasks, signup.request_subscription, signup_request)
    except InvalidInput as exc:
        if is_json:
            return JSONResponse({"error": exc.problems[0][1]}, status_code=422)
        ticked = [slug[:120] for slug in lists["topics"]]
        return _front(request, settings, ticked, error=exc.problems[0][1], **_echo(fields))
    if is_json:
        return JSONResponse({"status": "accepted", "message": ACCEPTED}, status_code=202)
    return render_page(request, "notice.html", _check_inbox())


@router.get("/preferences", response_class=HTMLResponse)
@router.get("/unsubscribe", response_class=HTMLResponse)
def find_link_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """Where the web archive's anonymous footer links lead: ask for your own link by email."""
    stamp = signup.make_form_stamp(settings.secret, now=now())
    return render_page(request, "find_link.html", {"form_stamp": stamp})


@router.post("/preferences")
async def ask_for_link(request: Request, settings: SettingsDep, tasks: BackgroundTasks) -> Response:
    try:
        fields, is_json = await read_fields(request)
    except BadBody as exc:
        return _bad_body(request, str(exc), is_json=wants_json(request))
    signup_request = _signup_request(request, fields, is_json=is_json)
    try:
        _run(request, settings, tasks, signup.request_manage_link, signup_request)
    except InvalidInput as exc:
        stamp = signup.make_form_stamp(settings.secret, now=now())
        context = {"form_stamp": stamp, "error": exc.problems[0][1]}
        return render_page(request, "find_link.html", context, status_code=400)
    lines = ["If that address is on the list, a link to your settings is on its way."]
    return render_page(request, "notice.html", {"title": "Check your inbox", "lines": lines})


def _run(
    request: Request,
    settings: Settings,
    tasks: BackgroundTasks,
    handler: Callable[..., signup.SignupResult],
    signup_request: signup.SignupRequest,
) -> None:
    engine, moment = get_engine(request), now()
    with session_scope(engine) as session:
        result = handler(session, settings, signup_request, now=moment)
    if result.held is not None:
        transport = get_transport(request)
        tasks.add_task(deliver_quietly, engine, settings, result.held, transport, now=moment)


def _signup_request(
    request: Request, fields: dict[str, str], *, is_json: bool
) -> signup.SignupRequest:
    return signup.SignupRequest(
        email=fields.get("email", ""),
        name=fields.get("name"),
        route=ConsentRoute.API if is_json else ConsentRoute.FORM,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        honeypot=fields.get(signup.HONEYPOT_FIELD),
        form_stamp=fields.get("form_stamp"),
    )


def _echo(fields: dict[str, str]) -> dict[str, str]:
    """What the visitor typed, back into their own form (escaped by the template)."""
    return {"email": fields.get("email", "")[:254], "name": fields.get("name", "")[:100]}


def _check_inbox() -> dict[str, Any]:
    return {
        "title": "Check your inbox",
        "lines": [
            ACCEPTED,
            "Press the button in that email to start receiving the weekly issue. "
            "Nothing arrives until you do.",
            "No email after a few minutes? Look in your spam folder, or try again later.",
        ],
    }


def _bad_body(request: Request, message: str, *, is_json: bool) -> Response:
    if is_json:
        return JSONResponse({"error": message}, status_code=400)
    home = {"url": f"{request.app.state.settings.base_url}/", "label": "Back to the form"}
    context = {"title": "That did not work", "lines": [message], "links": [home]}
    return render_page(request, "notice.html", context, status_code=400)


def deliver_quietly(
    engine: Engine,
    settings: Settings,
    held: mail_queue.Held,
    transport: Transport,
    *,
    now: datetime,
) -> None:
    """Best effort right after the answer; a failure here is retried by the pending-mail loop."""
    try:
        mail_queue.deliver_held(engine, settings, held, transport=transport, now=now)
    except Exception:
        log.exception("sending message %s failed; it will be retried", held.message.id)
