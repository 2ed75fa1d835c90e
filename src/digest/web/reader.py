"""Pages behind the links in a reader's email: /confirm, /unsubscribe and /preferences/{token}.

GET only shows a page (mail scanners follow links); POST acts. A forged, expired or misused
token gets a friendly 400 page with a way to ask again; an erased reader's old link gets a calm
page. Every page here sends `Referrer-Policy: no-referrer` and a strict CSP (see pages.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from digest import links, privacy, subscriptions, tokens
from digest.config import Settings
from digest.db import session_scope
from digest.errors import Conflict, InvalidInput, NotFound, TokenError
from digest.models.subscribers import Subscriber, SubscriberStatus
from digest.tokens import Purpose
from digest.web.deps import SettingsDep, get_engine, now
from digest.web.pages import PAGE_HEADERS, render_page
from digest.web.public import BadBody, read_fields

router = APIRouter(tags=["reader"])
Action = Callable[..., Subscriber]


def read_claim(settings: Settings, purpose: Purpose, token: str) -> tuple[int, str]:
    max_age = timedelta(days=settings.confirm_max_age_days)
    return tokens.read_token(settings.secret, purpose, token, now=now(), max_age=max_age)


def load(request: Request, purpose: Purpose, token: str) -> Subscriber:
    """The subscriber a token names; TokenError or NotFound otherwise."""
    subscriber_id, tag = read_claim(request.app.state.settings, purpose, token)
    with session_scope(get_engine(request), read_only=True) as session:
        return subscriptions.get_linked_subscriber(session, subscriber_id, tag)


def act(request: Request, purpose: Purpose, token: str, action: Action, **kw: Any) -> Subscriber:
    """Run one state change for the token's subscriber in its own transaction."""
    subscriber_id, tag = read_claim(request.app.state.settings, purpose, token)
    with session_scope(get_engine(request)) as session:
        subscriptions.get_linked_subscriber(session, subscriber_id, tag)  # same transaction
        return action(session, subscriber_id, **kw)


def bad_link(request: Request, exc: TokenError | NotFound) -> HTMLResponse:
    settings = request.app.state.settings
    reason = exc.message if isinstance(exc, TokenError) else "this link no longer works"
    context = {
        "title": "This link does not work",
        "lines": [reason[:1].upper() + reason[1:] + ".", "No harm done. Ask for a fresh one:"],
        "links": [
            {"url": f"{settings.base_url}/", "label": "Subscribe again"},
            {"url": f"{settings.base_url}/preferences", "label": "Email me a link to my settings"},
        ],
    }
    return render_page(request, "notice.html", context, status_code=400)


def calm(request: Request, title: str, *lines: str, **extra: Any) -> HTMLResponse:
    return render_page(request, "notice.html", {"title": title, "lines": lines, **extra})


def gone_page(request: Request, subscriber: Subscriber) -> HTMLResponse | None:
    """The calm answer for an erased or suppressed reader, or None for everyone else."""
    if subscriber.status == SubscriberStatus.ERASED:
        return calm(request, "Nothing to do", "This subscription was erased; no mail goes to it.")
    if subscriber.status in subscriptions.SUPPRESSED:
        return calm(
            request,
            "Mail is switched off",
            "Mail to this address bounced or was reported as spam, so we stopped sending to it.",
        )
    return None


def settings_link(request: Request, subscriber: Subscriber) -> dict[str, str]:
    settings = request.app.state.settings
    assert subscriber.id is not None
    url = links.preferences_url(
        settings, subscriber.id, email_hash=subscriber.email_hash, now=now()
    )
    return {"url": url, "label": "Your settings"}


def button(url: str, label: str, *, secondary: bool = False, **fields: str) -> dict[str, Any]:
    return {"url": url, "label": label, "secondary": secondary, "fields": fields}


# -- confirm ---------------------------------------------------------------------------------


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    try:
        subscriber = load(request, Purpose.CONFIRM, token)
    except (TokenError, NotFound) as exc:
        return bad_link(request, exc)
    if page := gone_page(request, subscriber):
        return page
    if subscriber.status == SubscriberStatus.CONFIRMED:
        return calm(
            request,
            "You are subscribed",
            "Nothing more to do.",
            links=[settings_link(request, subscriber)],
        )
    lines = ["One more step: press the button to start receiving the weekly issue."]
    if name := subscriber.pending_name or subscriber.name:  # what confirming will keep
        lines.append(f"We will greet you as “{name}”; you can change that later.")
    url = str(request.url.path)
    return calm(
        request, "Confirm your subscription", *lines, action=button(url, "Confirm my subscription")
    )


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str) -> HTMLResponse:
    try:
        subscriber = act(
            request, Purpose.CONFIRM, token, subscriptions.confirm_subscriber, now=now()
        )
    except (TokenError, NotFound) as exc:
        return bad_link(request, exc)
    except Conflict as exc:
        return calm(request, "Nothing to do", exc.message[:1].upper() + exc.message[1:] + ".")
    return calm(
        request,
        "You are subscribed",
        "Thank you. The next weekly issue will be in your inbox.",
        "Every issue has a one-click unsubscribe link at the bottom.",
        links=[settings_link(request, subscriber)],
    )


# -- unsubscribe ------------------------------------------------------------------------------


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    try:
        subscriber = load(request, Purpose.UNSUBSCRIBE, token)
    except (TokenError, NotFound) as exc:
        return bad_link(request, exc)
    if page := gone_page(request, subscriber):
        return page
    url = str(request.url.path)
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        return unsubscribed_page(request, subscriber, url)
    return calm(
        request,
        "Unsubscribe",
        "Stop receiving the weekly issue at this address?",
        action=button(url, "Unsubscribe"),
    )


@router.post("/unsubscribe/{token}")
async def unsubscribe(request: Request, token: str) -> Response:
    """Also RFC 8058 one-click: body `List-Unsubscribe=One-Click`, no cookies, 200, no redirect."""
    try:
        fields, _ = await read_fields(request)
    except BadBody:
        fields = {}  # a one-click client's odd body must not stop the unsubscribe
    action = (
        subscriptions.resubscribe_subscriber
        if fields.get("action") == "resubscribe"
        else subscriptions.unsubscribe_subscriber
    )
    try:
        subscriber = act(request, Purpose.UNSUBSCRIBE, token, action, now=now())
    except (TokenError, NotFound) as exc:
        return bad_link(request, exc)
    except Conflict as exc:
        return calm(request, "Nothing to do", exc.message[:1].upper() + exc.message[1:] + ".")
    if page := gone_page(request, subscriber):
        return page
    url = str(request.url.path)
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        return unsubscribed_page(request, subscriber, url)
    return calm(
        request,
        "Welcome back",
        "You will receive the weekly issue again.",
        action=button(url, "Unsubscribe", secondary=True),
        links=[settings_link(request, subscriber)],
    )


def unsubscribed_page(request: Request, subscriber: Subscriber, url: str) -> HTMLResponse:
    lines = ["You will not receive the weekly issue any more.", "Changed your mind?"]
    return calm(
        request,
        "You are unsubscribed",
        *lines,
        action=button(url, "Undo: resubscribe me", secondary=True, action="resubscribe"),
    )


# -- preferences -------------------------------------------------------------------------------


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str) -> HTMLResponse:
    try:
        subscriber = load(request, Purpose.PREFERENCES, token)
    except (TokenError, NotFound) as exc:
        return bad_link(request, exc)
    return show_preferences(request, subscriber)


def show_preferences(
    request: Request, subscriber: Subscriber, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    if subscriber.status == SubscriberStatus.ERASED:
        return gone_page(request, subscriber) or calm(request, "Nothing to do")
    values = {
        "subscriber": subscriber,
        "url": str(request.url.path),
        "status_text": STATUS_TEXT.get(subscriber.status, str(subscriber.status)),
        **context,
    }
    return render_page(request, "preferences.html", values, status_code=status_code)


STATUS_TEXT = {
    SubscriberStatus.PENDING: "waiting for you to confirm",
    SubscriberStatus.CONFIRMED: "subscribed",
    SubscriberStatus.UNSUBSCRIBED: "unsubscribed",
    SubscriberStatus.BOUNCED: "mail switched off: it bounced",
    SubscriberStatus.COMPLAINED: "mail switched off: it was reported as spam",
}


@router.post("/preferences/{token}")
async def change_preferences(request: Request, token: str, settings: SettingsDep) -> Response:
    try:
        fields, _ = await read_fields(request)
    except BadBody as exc:
        fields = {"action": "", "error": str(exc)}
    try:
        return preference_action(request, token, fields)
    except (TokenError, NotFound) as exc:
        return bad_link(request, exc)


def preference_action(request: Request, token: str, fields: dict[str, str]) -> Response:
    action = fields.get("action", "")
    if action == "download":
        return download(request, token)
    if action == "erase":
        return erase(request, token, sure=fields.get("sure") == "yes")
    changes: dict[str, tuple[Action, dict[str, Any], str]] = {
        "rename": (subscriptions.rename_subscriber, {"name": fields.get("name")}, "Name saved."),
        "unsubscribe": (subscriptions.unsubscribe_subscriber, {"now": now()}, "Unsubscribed."),
        "resubscribe": (subscriptions.resubscribe_subscriber, {"now": now()}, "Welcome back."),
    }
    if action not in changes:
        subscriber = load(request, Purpose.PREFERENCES, token)
        return show_preferences(request, subscriber, status_code=400, error="Unknown request.")
    function, kwargs, notice = changes[action]
    try:
        subscriber = act(request, Purpose.PREFERENCES, token, function, **kwargs)
    except (Conflict, InvalidInput) as exc:
        subscriber = load(request, Purpose.PREFERENCES, token)
        error = exc.problems[0][1] if isinstance(exc, InvalidInput) else exc.message
        return show_preferences(request, subscriber, status_code=400, error=error)
    return show_preferences(request, subscriber, notice=notice)


def download(request: Request, token: str) -> Response:
    subscriber_id, tag = read_claim(request.app.state.settings, Purpose.PREFERENCES, token)
    with session_scope(get_engine(request), read_only=True) as session:
        subscriptions.get_linked_subscriber(session, subscriber_id, tag)
        data = privacy.export_subscriber(session, subscriber_id)
    headers = {**PAGE_HEADERS, "Content-Disposition": 'attachment; filename="my-data.json"'}
    return JSONResponse(data, headers=headers)


def erase(request: Request, token: str, *, sure: bool) -> Response:
    if not sure:
        subscriber = load(request, Purpose.PREFERENCES, token)
        error = "Tick the box to confirm that you want your data erased."
        return show_preferences(request, subscriber, status_code=400, error=error)
    act(request, Purpose.PREFERENCES, token, privacy.erase_subscriber, now=now())
    return calm(
        request,
        "Your data is erased",
        "We removed your address, your name and your consent record.",
        "We keep only a one-way fingerprint of the address, so that no old list can make us "
        "email you again. Subscribing again from the front page still works.",
    )
