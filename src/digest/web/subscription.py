"""Pages behind the links in a reader's email: /confirm, /unsubscribe and /preferences/{token}.

GET only shows a page (mail scanners follow links); POST acts. A forged, expired or misused
token gets a friendly 400 page with a way to ask again; an erased reader's old link gets a calm
page. Every page here sends `Referrer-Policy: no-referrer` and a strict CSP (see pages.py).
The token is read by the `reader_link` dependencies; a bad one never reaches a handler.

The footer links never expire and travel with every forwarded issue: whoever holds one may
unsubscribe, resubscribe or rename, and sees the address only masked; to download or erase
the data, the page emails a short-lived link to the address itself (reader_data.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from digest import catalog, clicks, links
from digest.config import Settings
from digest.db import session_scope
from digest.errors import Conflict, InvalidInput
from digest.models import Subscriber, SubscriberStatus
from digest.readers import mail_queue, subscriptions, topics, welcome
from digest.transports import Transport
from digest.web import reader_data
from digest.web.deps import get_engine, get_settings_dep, get_transport, now
from digest.web.forms import BadBody, read_fields, read_fields_and_lists
from digest.web.pages import render_page
from digest.web.reader_link import ConfirmLink, PreferencesLink, ReaderLink, UnsubscribeLink

router = APIRouter(tags=["subscription"])
StateChange = Callable[..., Subscriber]
log = logging.getLogger(__name__)


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
def confirm_page(request: Request, link: ConfirmLink) -> HTMLResponse:
    subscriber = link.load()
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
def confirm(request: Request, link: ConfirmLink, tasks: BackgroundTasks) -> HTMLResponse:
    """Confirms once; the first confirmation also queues the welcome, sent after the answer."""
    settings = request.app.state.settings
    try:
        subscriber, held = link.act(welcome.confirm_and_welcome, settings=settings, now=link.now)
    except Conflict as exc:
        return calm(request, "Nothing to do", exc.message[:1].upper() + exc.message[1:] + ".")
    if held is not None:
        engine, transport = get_engine(request), get_transport(request)
        tasks.add_task(_send_welcome, engine, settings, transport, held, now=link.now)
    return calm(
        request,
        "You are subscribed",
        "Thank you. The next weekly issue will be in your inbox"
        + (", and a welcome with the latest one is on its way." if held else "."),
        "Every issue has a one-click unsubscribe link at the bottom.",
        links=[settings_link(request, subscriber)],
    )


def _send_welcome(
    engine: Engine,
    settings: Settings,
    transport: Transport,
    held: mail_queue.Held,
    *,
    now: datetime,
) -> None:
    """Right after the answer; a failure is retried by the pending-mail loop (mail_retry.py)."""
    try:
        mail_queue.deliver_held(engine, settings, held, transport=transport, now=now)
    except Exception:
        log.exception("sending message %s failed; it will be retried", held.message.id)


# -- unsubscribe ------------------------------------------------------------------------------


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, link: UnsubscribeLink) -> HTMLResponse:
    subscriber = link.load()
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
async def unsubscribe(request: Request, link: UnsubscribeLink) -> Response:
    """Also RFC 8058 one-click: body `List-Unsubscribe=One-Click`, no cookies, 200, no redirect."""
    try:
        fields, _ = await read_fields(request)
    except BadBody:
        fields = {}  # a one-click client's odd body must not stop the unsubscribe
    return await run_in_threadpool(_unsubscribe, request, link, fields)  # store work: off the loop


def _unsubscribe(request: Request, link: UnsubscribeLink, fields: dict[str, str]) -> Response:
    action = (
        subscriptions.resubscribe_subscriber
        if fields.get("action") == "resubscribe"
        else subscriptions.unsubscribe_subscriber
    )
    try:
        subscriber = link.act(action, now=link.now)
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
def preferences_page(request: Request, link: PreferencesLink) -> HTMLResponse:
    return show_preferences(request, link.load())


def show_preferences(
    request: Request, subscriber: Subscriber, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    if subscriber.status == SubscriberStatus.ERASED:
        return gone_page(request, subscriber) or calm(request, "Nothing to do")
    values = {
        "subscriber": subscriber,
        "address": masked(subscriber.email or ""),
        "url": str(request.url.path),
        "status_text": STATUS_TEXT.get(subscriber.status, str(subscriber.status)),
        "data_minutes": get_settings_dep(request).data_link_minutes,
        **topic_boxes(request, subscriber, context.pop("typed", None)),
        **context,
    }
    return render_page(request, "preferences.html", values, status_code=status_code)


def masked(address: str) -> str:
    """ "a•••@example.com": enough for the owner to recognise, not for a stranger to learn."""
    local, at, domain = address.rpartition("@")
    return f"{local[:1]}•••{at}{domain}" if at else "•••"


def topic_boxes(
    request: Request, subscriber: Subscriber, typed: tuple[bool, list[str]] | None
) -> dict[str, Any]:
    """The topics form: every topic offered, ticked as stored (or as typed, after an error)."""
    assert subscriber.id is not None
    with session_scope(get_engine(request), read_only=True) as session:
        offered = catalog.list_topics(session)
        current = topics.choice_of(session, subscriber.id)
    if typed is not None:
        every, ticked = typed[0], set(typed[1])
    else:
        every = current.every
        ticked = {t.slug for t in offered if current.topic_ids and t.id in current.topic_ids}
    boxes = [{"slug": t.slug, "name": t.name, "checked": t.slug in ticked} for t in offered]
    return {"topics": boxes, "every_topic": every}


STATUS_TEXT = {
    SubscriberStatus.PENDING: "waiting for you to confirm",
    SubscriberStatus.CONFIRMED: "subscribed",
    SubscriberStatus.UNSUBSCRIBED: "unsubscribed",
    SubscriberStatus.BOUNCED: "mail switched off: it bounced",
    SubscriberStatus.COMPLAINED: "mail switched off: it was reported as spam",
}
DATA_BY_MAIL = (
    "Downloading or erasing your data needs a fresh link, which we email to the address: "
    "press “Email me a link”."
)


@router.post("/preferences/{token}")
async def change_preferences(request: Request, link: PreferencesLink) -> Response:
    try:
        fields, lists, _ = await read_fields_and_lists(request, frozenset({"topics"}))
    except BadBody as exc:
        fields, lists = {"action": "", "error": str(exc)}, {}
    return await run_in_threadpool(_preferences, request, link, fields, lists)  # off the loop


def _preferences(
    request: Request, link: PreferencesLink, fields: dict[str, str], lists: dict[str, list[str]]
) -> Response:
    if fields.get("action") == "topics":
        return change_topics(
            request, link, every=fields.get("every") == "all", slugs=lists["topics"]
        )
    return preference_action(request, link, fields)


def change_topics(request: Request, link: ReaderLink, *, every: bool, slugs: list[str]) -> Response:
    """Every topic, or only the ticked ones; a bad choice re-renders the form as typed."""
    try:
        choice = link.read(lambda session, _reader: topics.choose(session, slugs, every=every))
        subscriber = link.act(subscriptions.change_topics, choice=choice)
    except (Conflict, InvalidInput) as exc:
        error = exc.problems[0][1] if isinstance(exc, InvalidInput) else exc.message
        error = error[:1].upper() + error[1:] + "."
        typed = (every, [slug[:120] for slug in slugs])
        return show_preferences(request, link.load(), status_code=400, error=error, typed=typed)
    return show_preferences(request, subscriber, notice="Topics saved.")


CLICKS_KEPT = "Saved: from now on we record which links you click."
CLICKS_FORGOTTEN = "Saved: we no longer record your clicks, and those we had are deleted."


def preference_action(request: Request, link: ReaderLink, fields: dict[str, str]) -> Response:
    action = fields.get("action", "")
    if action == "email-data-link":
        refused = reader_data.send_data_link(request, link)
        notice = None if refused else reader_data.LINK_SENT
        status = 429 if refused else 200
        return show_preferences(
            request, link.load(), status_code=status, error=refused, notice=notice
        )
    if action == "clicks":
        consent = fields.get("click_consent") == "on"
        subscriber = link.act(clicks.set_click_consent, consent=consent, now=link.now)
        notice = CLICKS_KEPT if consent else CLICKS_FORGOTTEN
        return show_preferences(request, subscriber, notice=notice)
    if action in ("download", "erase"):  # not with a link that travels with every issue
        return show_preferences(request, link.load(), status_code=403, error=DATA_BY_MAIL)
    changes: dict[str, tuple[StateChange, dict[str, Any], str]] = {
        "rename": (subscriptions.rename_subscriber, {"name": fields.get("name")}, "Name saved."),
        "unsubscribe": (subscriptions.unsubscribe_subscriber, {"now": link.now}, "Unsubscribed."),
        "resubscribe": (subscriptions.resubscribe_subscriber, {"now": link.now}, "Welcome back."),
    }
    if action not in changes:
        subscriber = link.load()
        return show_preferences(request, subscriber, status_code=400, error="Unknown request.")
    function, kwargs, notice = changes[action]
    try:
        subscriber = link.act(function, **kwargs)
    except (Conflict, InvalidInput) as exc:
        subscriber = link.load()
        error = exc.problems[0][1] if isinstance(exc, InvalidInput) else exc.message
        return show_preferences(request, subscriber, status_code=400, error=error)
    return show_preferences(request, subscriber, notice=notice)
