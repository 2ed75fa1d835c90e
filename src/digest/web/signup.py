"""The front page and the two "give me mail" requests: GET /, POST /subscribe, GET|POST
/preferences, GET /unsubscribe (where the archive's anonymous footer links lead), and
GET /subscribe/stamp (a form stamp for embedded and JSON clients).

Every request that may cause mail passes the same defences (`readers.signup.receive_request`):
per-client limit, honeypot, a single-use form stamp; only a server-side proxy holding the API
token skips honeypot and stamp. An accepted request gets the same answer whatever the address's
state; the work that depends on the address happens after the answer (the reader-work loop,
or `digest worker` when DIGEST_WEB_SENDS_MAIL=off).
A person is never told "check your inbox" for nothing: a typo keeps the form (and its stamp,
and the topics ticked), a press that came too fast gets the form again with a neutral "press
once more". The topics chosen on the subscribe form (or a JSON list) travel with the stored
request; an unknown one is refused by name before anything is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from digest.config import ClickTracking, Settings, Switch
from digest.errors import InvalidInput
from digest.models import ConsentRoute, RequestKind
from digest.readers import defences, signup
from digest.readers.signup import Answer, Receipt
from digest.web import issue_page
from digest.web.bearer import Bearer, check_bearer, retry_after
from digest.web.client import client_ip
from digest.web.deps import SettingsDep, get_settings_dep, now, wake_reader_work
from digest.web.forms import BadBody, read_fields, read_fields_and_lists, wants_json
from digest.web.pages import render_page
from digest.web.signup_writer import SignupWriter

router = APIRouter(tags=["signup"])

ACCEPTED = "If that address can receive mail, a confirmation link is on its way."
LINK_SENT = "If that address is on the list, a link to your settings is on its way."
PRESS_AGAIN = "Almost there: please press the button once more."
PAGES = {RequestKind.SUBSCRIBE: "index.html", RequestKind.MANAGE_LINK: "find_link.html"}
LISTS = frozenset({"topics"})  # the subscribe form's checkboxes (a JSON list of slugs)


@router.get("/", response_class=HTMLResponse)
def front_page(request: Request) -> HTMLResponse:
    # No SettingsDep: FastAPI runs a sync dependency in a worker thread, a hop per request.
    return _form(request, get_settings_dep(request), RequestKind.SUBSCRIBE)


@router.get("/preferences", response_class=HTMLResponse)
@router.get("/unsubscribe", response_class=HTMLResponse)
def find_link_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """Where the web archive's anonymous footer links lead: ask for your own link by email."""
    return _form(request, settings, RequestKind.MANAGE_LINK)


@router.get("/subscribe/stamp")
def form_stamp(settings: SettingsDep) -> JSONResponse:
    """A fresh form stamp for a client that renders its own form (README: "Embedding")."""
    body = {
        "form_stamp": defences.make_form_stamp(settings.secret, now=now()),
        "honeypot_field": defences.HONEYPOT_FIELD,
        "min_seconds": settings.subscribe_min_seconds,
        "max_age_seconds": int(defences.FORM_MAX_AGE.total_seconds()),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/subscribe")
async def subscribe(request: Request, settings: SettingsDep) -> Response:
    """Form or JSON; the same answer for new, pending, confirmed, unsubscribed and blocked."""
    return await _handle(request, settings, RequestKind.SUBSCRIBE)


@router.post("/preferences")
async def ask_for_link(request: Request, settings: SettingsDep) -> Response:
    return await _handle(request, settings, RequestKind.MANAGE_LINK)


async def _handle(request: Request, settings: Settings, kind: RequestKind) -> Response:
    try:
        fields, topics, is_json = await _read(request, kind)
    except BadBody as exc:
        return _bad_body(request, exc, is_json=wants_json(request))
    trusted: bool | Response = False
    if _bearer(request):  # counts wrong tokens in the store: in a worker thread
        trusted = await run_in_threadpool(_proxy, request)
    if isinstance(trusted, Response):
        return trusted
    signup_request = _signup_request(request, fields, is_json, trusted, topics)
    ticked = [slug[:120] for slug in topics]  # echoed into the form, never trusted
    try:
        # Stored by the signup writer's thread (its transaction shared with other requests'):
        # a write that waits on the SQLite lock never stops the loop.
        receipt = await signup_writer(request).receive(signup_request, kind, now=now())
        if receipt.stored and settings.web_sends_mail is Switch.ON:
            wake_reader_work(request)  # act on it right after this answer (off: the worker does)
    except InvalidInput as exc:
        error = exc.problems[0][1]
        if is_json:
            return JSONResponse({"error": error}, status_code=422)
        stamp = _keep_stamp(settings, fields.get("form_stamp"))
        context = {"error": error, **_echo(fields)}
        return _form(
            request, settings, kind, stamp=stamp, status=400, context=context, ticked=ticked
        )
    if receipt.answer is Answer.PRESS_AGAIN:
        if is_json:
            return _json_press_again(receipt)
        context = {"again": PRESS_AGAIN, **_echo(fields)}
        return _form(request, settings, kind, stamp=receipt.stamp, context=context, ticked=ticked)
    return _accepted(request, kind, is_json=is_json)


async def _read(request: Request, kind: RequestKind) -> tuple[dict[str, str], list[str], bool]:
    """The request's fields, the topic slugs it ticked (subscribe only), and whether it was
    JSON; the same bounded read either way."""
    if kind is not RequestKind.SUBSCRIBE:
        fields, is_json = await read_fields(request)
        return fields, [], is_json
    fields, lists, is_json = await read_fields_and_lists(request, LISTS)
    return fields, lists["topics"], is_json


def _bearer(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("bearer")


def _proxy(request: Request) -> bool | Response:
    """A request that carries a bearer token: True for a server-side proxy with the API token;
    a 401/429 for a wrong one."""
    verdict = check_bearer(request)
    if verdict is Bearer.GOOD:
        return True
    if verdict is Bearer.BLOCKED:
        message = "too many wrong tokens from your address; try again later"
        return JSONResponse(
            {"error": message}, status_code=429, headers={"Retry-After": retry_after()}
        )
    headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse({"error": "wrong bearer token"}, status_code=401, headers=headers)


def signup_writer(request: Request) -> SignupWriter:
    writer: SignupWriter = request.app.state.signups
    return writer


def _signup_request(
    request: Request, fields: dict[str, str], is_json: bool, trusted: bool, topics: list[str]
) -> signup.SignupRequest:
    return signup.SignupRequest(
        email=fields.get("email", ""),
        name=fields.get("name"),
        route=ConsentRoute.API if is_json or trusted else ConsentRoute.FORM,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        honeypot=fields.get(defences.HONEYPOT_FIELD),
        form_stamp=fields.get("form_stamp"),
        trusted=trusted,
        topics=tuple(topics),
        # Only a ticked box counts, and only where the page offers it.
        click_consent=get_settings_dep(request).track_clicks is ClickTracking.CONSENTED
        and fields.get("click_consent") == "on",
    )


def _form(
    request: Request,
    settings: Settings,
    kind: RequestKind,
    *,
    stamp: str | None = None,
    status: int = 200,
    context: dict[str, str] | None = None,
    ticked: Sequence[str] = (),
) -> HTMLResponse:
    """The subscribe page or the "email me my link" page, with a stamp (a fresh one unless
    the visitor's own is to be kept); the subscribe page offers the topics (as ticked), says
    when issues go out and shows a taste of the latest."""
    values: dict[str, Any] = {
        "form_stamp": stamp or defences.make_form_stamp(settings.secret, now=now())
    }
    if kind is RequestKind.SUBSCRIBE:
        values.update(issue_page.front_context(request, settings, ticked))
    values.update(context or {})
    return render_page(request, PAGES[kind], values, status_code=status)


def _keep_stamp(settings: Settings, raw: str | None) -> str | None:
    """The visitor's own stamp, if it is ours and still young: the form was served when it
    says, and fixing a typo must not restart the clock. None: serve a fresh one."""
    stamp = defences.read_stamp(settings.secret, raw)
    if stamp is None or now() - stamp.served > defences.FORM_MAX_AGE:
        return None
    return raw


def _echo(fields: dict[str, str]) -> dict[str, str]:
    """What the visitor typed, back into their own form (escaped by the template)."""
    return {"email": fields.get("email", "")[:254], "name": fields.get("name", "")[:100]}


def _json_press_again(receipt: Receipt) -> JSONResponse:
    wait = max(1, round(receipt.wait_seconds + 0.5))
    body = {
        "error": f"send it again in {wait} seconds with this form_stamp",
        "form_stamp": receipt.stamp,
        "retry_after": wait,
    }
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(wait)})


def _accepted(request: Request, kind: RequestKind, *, is_json: bool) -> Response:
    message = ACCEPTED if kind is RequestKind.SUBSCRIBE else LINK_SENT
    if is_json:
        return JSONResponse({"status": "accepted", "message": message}, status_code=202)
    lines = [message]
    if kind is RequestKind.SUBSCRIBE:
        lines += [
            "Press the button in that email to start receiving the weekly issue. "
            "Nothing arrives until you do.",
            "No email after a few minutes? Look in your spam folder, or try again later.",
        ]
    return render_page(request, "notice.html", {"title": "Check your inbox", "lines": lines})


def _bad_body(request: Request, exc: BadBody, *, is_json: bool) -> Response:
    if is_json:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)
    home = {"url": f"{request.app.state.settings.base_url}/", "label": "Back to the form"}
    context = {"title": "That did not work", "lines": [str(exc)], "links": [home]}
    return render_page(request, "notice.html", context, status_code=exc.status)
