"""The desk's readers: GET /editor/readers (search, filter, keyset pages), GET
/editor/readers/{id} (one reader's record), GET /editor/readers.csv (the export, streamed), and
the actions: add, import CSV, erase, suppress, unsuppress.

Every action is a CSRF-checked form of a logged-in editor, changes the store through the
`readers` package, and writes its audit entry in the same transaction. An import follows the
CLI's rules exactly (`readers.csv_io`): all or nothing, every bad row listed with its line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from digest import editors, stats
from digest.config import Settings
from digest.db import session_scope
from digest.errors import DigestError, InvalidInput, NotFound
from digest.models import ConsentRoute, Subscriber, SubscriberStatus
from digest.readers import csv_export, csv_io, privacy, signup, subscriptions, suppression
from digest.web import editor_auth as auth
from digest.web.deps import BodyTooLarge, SettingsDep, get_engine, now
from digest.web.desk import csv_response, desk_context
from digest.web.editor_auth import EditorForm, EditorRefused, EditorSession
from digest.web.fallback import redirect_to
from digest.web.forms import IMPORT_PATH
from digest.web.pages import render_page

router = APIRouter(prefix="/editor", tags=["editor"])

NOTICES = {
    "added": "Added. A confirmation email is on its way to them.",
    "erased": "Erased. Only the address's hash is kept, so no import can add it again.",
    "suppressed": "Suppressed: no more mail goes to this address.",
    "unsuppressed": "Unsuppressed: this address may receive mail again.",
}


@router.get("/readers")
def readers_page(
    request: Request,
    settings: SettingsDep,
    session_id: EditorSession,
    q: str = "",
    status: str = "",
    after: str = "",
) -> Response:
    values: dict[str, Any] = {**desk_context(settings, session_id, "readers"), "q": q[:200],
                              "status": status, "statuses": _statuses()}  # fmt: skip
    try:
        chosen, cursor = stats.readers.parse_status(status), stats.readers.parse_cursor(after)
    except stats.BadCursor as exc:
        values.update(page=None, error=exc.problems[0][1].capitalize() + ".")
        return render_page(request, "desk_readers.html", values, status_code=400)
    with session_scope(get_engine(request), read_only=True) as session:
        page = stats.search_readers(session, query=q, status=chosen, after=cursor)
    values.update(page=page, notice=_notice(request))
    return render_page(request, "desk_readers.html", values)


def _statuses() -> list[str]:
    return [s.value for s in SubscriberStatus]


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


@router.get("/readers.csv")
def readers_csv(request: Request, session_id: EditorSession, status: str = "") -> Response:
    """Every reader with their consent record, as `digest subscribers export` writes it."""
    try:
        chosen = stats.readers.parse_status(status)
    except stats.BadCursor:
        return auth.not_found(request)
    engine = get_engine(request)

    def lines() -> Iterator[str]:
        with session_scope(engine, read_only=True) as session:
            yield from csv_export.export_csv(session, status=chosen)

    return csv_response(lines(), "readers.csv")


@router.get("/readers/{reader_id}")
def reader_page(
    request: Request, reader_id: str, settings: SettingsDep, session_id: EditorSession
) -> Response:
    return _reader_page(request, settings, session_id, reader_id, notice=_notice(request))


def _reader_page(
    request: Request,
    settings: Settings,
    session_id: str,
    reader_id: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    number = _id(reader_id)
    with session_scope(get_engine(request), read_only=True) as session:
        try:
            record = stats.reader_record(session, number) if number else None
        except NotFound:
            record = None
        if record is None:
            return auth.not_found(request)
        audit = editors.recent_audit(session, target=f"reader {number}")
    values = {
        **desk_context(settings, session_id, "readers"),
        "record": record,
        "reader": record.subscriber,
        "consent": privacy.consent_record(record.subscriber),
        "audit": audit,
        "suppressed": record.subscriber.status in subscriptions.SUPPRESSED,
        **context,
    }
    return render_page(request, "desk_reader.html", values, status_code=status_code)


def _id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _wake_mail(request: Request) -> None:
    """The web process sends the confirmation email right after this answer (mail_retry)."""
    wake = getattr(request.app.state, "reader_work", None)
    if wake is not None:
        wake.set()


@router.post("/readers")
async def add_reader(request: Request, settings: SettingsDep, form: EditorForm) -> Response:
    """One reader, pending: they get the confirmation email and are mailed once they confirm."""
    email, name = form.get("email"), form.get("name")

    def add(session: Session) -> int:
        subscriber = subscriptions.add_subscriber(
            session, email, name=name or None, route=ConsentRoute.DESK, now=now()
        )
        signup.queue_confirmation(session, subscriber, now=now())
        _audit(session, form.editor.actor, "reader.add", subscriber, "pending, confirmation sent")
        return subscriber.id or 0

    try:
        new_id = await run_in_threadpool(_write, request, add)
    except DigestError as exc:
        return await _readers_error(request, settings, form.session_id, exc, email=email, name=name)
    _wake_mail(request)
    return redirect_to(request, f"/editor/readers/{new_id}?notice=added")


def _write(request: Request, change: Callable[[Session], Any]) -> Any:
    with session_scope(get_engine(request)) as session:
        return change(session)


def _audit(session: Session, actor: str, action: str, reader: Subscriber, detail: str) -> None:
    editors.record_audit(session, actor, action, f"reader {reader.id}", detail, now=now())


async def _readers_error(
    request: Request, settings: Settings, session_id: str, exc: DigestError, **form: str
) -> Response:
    values: dict[str, Any] = {
        **desk_context(settings, session_id, "readers"),
        "q": "",
        "status": "",
        "statuses": _statuses(),
        "page": None,
        "error": exc.message[:1].upper() + exc.message[1:] + ".",
        "problems": exc.problems if isinstance(exc, InvalidInput) else [],
        "form": form,
    }
    code = 422 if isinstance(exc, InvalidInput) else 409
    return render_page(request, "desk_readers.html", values, status_code=code)


@router.post(IMPORT_PATH.removeprefix("/editor"))  # body limit: forms.MAX_IMPORT_BYTES
async def import_readers(request: Request, settings: SettingsDep) -> Response:
    """A CSV of readers, as `digest subscribers import` takes it: nothing is added unless every
    row is good. Multipart (a file), so it reads its own form; the CSRF check is the same."""
    editor = auth.require_desk_editor(request)
    session_id = editor.session_id
    try:
        raw, confirmed, token = await _read_upload(request)
    except InvalidInput as exc:
        return await _readers_error(request, settings, session_id, exc)
    if not auth.csrf_ok(settings, session_id, token):
        context = {"title": "Form expired", "lines": ["Reload the page and try again."]}
        raise EditorRefused(render_page(request, "notice.html", context, status_code=403))

    def load(session: Session) -> csv_io.ImportReport:
        rows = csv_io.parse_csv("the file", raw)
        report = csv_io.import_rows(session, rows, confirmed=confirmed, now=now())
        detail = f"{len(report.added)} added, {len(report.already_listed)} already listed"
        editors.record_audit(session, editor.actor, "reader.import", "readers", detail, now=now())
        return report

    try:
        report = await run_in_threadpool(_write, request, load)
    except DigestError as exc:
        return await _readers_error(request, settings, session_id, exc)
    _wake_mail(request)
    values: dict[str, Any] = {
        **desk_context(settings, session_id, "readers"),
        "q": "", "status": "", "statuses": _statuses(), "page": None,
        "report": report, "confirmed": confirmed,
    }  # fmt: skip
    return render_page(request, "desk_readers.html", values)


async def _read_upload(request: Request) -> tuple[bytes, bool, str]:
    """The file's bytes (at most csv_io.MAX_FILE_BYTES + 1: csv_io says what is too large),
    the "already confirmed" box, and the CSRF token."""
    try:
        async with request.form(max_files=1, max_fields=5) as fields:
            upload = fields.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput("the form", [("file", "choose a CSV file to import")])
            raw = await upload.read(csv_io.MAX_FILE_BYTES + 1)
            return raw, fields.get("confirmed") == "yes", str(fields.get("csrf") or "")
    except BodyTooLarge:
        limit = csv_io.MAX_FILE_BYTES // 1_048_576
        raise InvalidInput("the file", [("", f"larger than {limit} MiB; split the file")]) from None
    except (HTTPException, ValueError, KeyError) as exc:  # a malformed multipart body
        detail = getattr(exc, "detail", None) or str(exc)
        raise InvalidInput("the form", [("", f"the upload could not be read ({detail})")]) from None


@router.post("/readers/{reader_id}/erase")
async def erase_reader(
    request: Request, reader_id: str, settings: SettingsDep, form: EditorForm
) -> Response:
    """Remove everything a person could be recognised by; the hash stays (never re-added)."""
    if form.get("confirm") != "yes":
        error = "Tick the box to confirm: erasing cannot be undone."
        return _reader_page(request, settings, form.session_id, reader_id, error=error,
                            status_code=422)  # fmt: skip

    def erase(session: Session, subscriber_id: int) -> None:
        subscriber = privacy.erase_subscriber(session, subscriber_id, now=now())
        _audit(session, form.editor.actor, "reader.erase", subscriber, "personal data removed")

    return await _act(request, settings, form.session_id, reader_id, erase, "erased")


@router.post("/readers/{reader_id}/suppress")
async def suppress_reader(
    request: Request, reader_id: str, settings: SettingsDep, form: EditorForm
) -> Response:
    def suppress(session: Session, subscriber_id: int) -> None:
        reason = suppression.clean_reason(form.get("reason"))
        subscriber = suppression.suppress_by_editor(session, subscriber_id, now=now())
        _audit(session, form.editor.actor, "reader.suppress", subscriber, reason)

    return await _act(request, settings, form.session_id, reader_id, suppress, "suppressed")


@router.post("/readers/{reader_id}/unsuppress")
async def unsuppress_reader(
    request: Request, reader_id: str, settings: SettingsDep, form: EditorForm
) -> Response:
    def unsuppress(session: Session, subscriber_id: int) -> None:
        reason = suppression.clean_reason(form.get("reason"))
        subscriber = suppression.unsuppress_by_editor(session, subscriber_id)
        _audit(session, form.editor.actor, "reader.unsuppress", subscriber, reason)

    return await _act(request, settings, form.session_id, reader_id, unsuppress, "unsuppressed")


async def _act(
    request: Request,
    settings: Settings,
    session_id: str,
    reader_id: str,
    change: Callable[[Session, int], None],
    notice: str,
) -> Response:
    """Apply `change` to the reader in one transaction; its error re-renders their page."""
    number = _id(reader_id)
    if number is None:
        return auth.not_found(request)
    try:
        await run_in_threadpool(_write, request, lambda session: change(session, number))
    except NotFound:
        return auth.not_found(request)
    except DigestError as exc:
        error = exc.message[:1].upper() + exc.message[1:] + "."
        code = 422 if isinstance(exc, InvalidInput) else 409
        return _reader_page(request, settings, session_id, reader_id, error=error,
                            status_code=code)  # fmt: skip
    return redirect_to(request, f"/editor/readers/{number}?notice={notice}")
