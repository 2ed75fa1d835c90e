"""A reader's own data, behind the short-lived link we email on request: GET /data/{token}
shows it, POST downloads it (JSON) or erases it.

The link is asked for on the settings page (`send_data_link`) and goes to the subscription's
own address, valid DIGEST_DATA_LINK_MINUTES: holding a forwarded issue's footer link is not
enough to read or erase anyone's data.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from digest.errors import Conflict
from digest.models import Subscriber, SubscriberStatus
from digest.readers import privacy, subscriptions
from digest.web.deps import wake_reader_work
from digest.web.forms import BadBody, read_fields
from digest.web.pages import PAGE_HEADERS, render_page
from digest.web.reader_link import DataLink, ReaderLink

router = APIRouter(tags=["subscription"])
LINK_SENT = (
    "We emailed a link to download or erase your data to the address of this subscription. "
    "Only that mailbox can use it, and only for a short while."
)


def send_data_link(request: Request, link: ReaderLink) -> str | None:
    """Queue the email with a data link and wake the mail loop; the refusal, if any."""
    settings = request.app.state.settings

    def queue(session: Session, reader_id: int) -> Subscriber:
        privacy.request_data_link(session, settings, reader_id, now=link.now)
        return subscriptions.get_subscriber(session, reader_id)

    try:
        link.act(queue)
    except Conflict as exc:
        return exc.message[:1].upper() + exc.message[1:] + "."
    wake_reader_work(request)
    return None


@router.get("/data/{token}", response_class=HTMLResponse)
def data_page(request: Request, link: DataLink) -> HTMLResponse:
    return _page(request, link.load())


@router.post("/data/{token}")
async def data_action(request: Request, link: DataLink) -> Response:
    try:
        fields, _ = await read_fields(request)
    except BadBody:
        fields = {}
    return await run_in_threadpool(_act, request, link, fields)  # store work: off the loop


def _act(request: Request, link: DataLink, fields: dict[str, str]) -> Response:
    action = fields.get("action", "")
    if action == "download":
        return _download(link)
    if action == "erase" and fields.get("sure") == "yes":
        return _erase(request, link)
    error = "Tick the box to confirm that you want your data erased."
    if action != "erase":
        error = "Unknown request."
    return _page(request, link.load(), status_code=400, error=error)


def _page(
    request: Request, subscriber: Subscriber, *, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    if subscriber.status == SubscriberStatus.ERASED:
        context = {"title": "Nothing to do", "lines": ["This subscription was erased."]}
        return render_page(request, "notice.html", context)
    values = {"subscriber": subscriber, "url": str(request.url.path), **extra}
    return render_page(request, "my_data.html", values, status_code=status_code)


def _download(link: ReaderLink) -> Response:
    data = link.read(lambda session, reader: privacy.export_subscriber(session, reader.id or 0))
    headers = {**PAGE_HEADERS, "Content-Disposition": 'attachment; filename="my-data.json"'}
    return JSONResponse(data, headers=headers)


def _erase(request: Request, link: ReaderLink) -> Response:
    link.act(privacy.erase_subscriber, now=link.now)
    lines = [
        "We removed your address, your name and your consent record.",
        "We keep only a one-way fingerprint of the address, so that no old list can make us "
        "email you again. Subscribing again from the front page still works.",
    ]
    return render_page(request, "notice.html", {"title": "Your data is erased", "lines": lines})
