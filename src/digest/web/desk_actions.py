"""The desk's issue actions: POST /editor/issues/{n}/approve|hold|send|pause|resume, and
GET /editor/audit (the audit log, paged).

Every action needs the editor's session and the form's CSRF token (`EditorForm`), is written
to the audit log by the domain call, and answers with a redirect back (303, `?done=<what>`:
`flash_text` turns it into the sentence a page shows) or, when refused, a page saying why
(404 unknown issue, 409 not possible now) with nothing changed. "Send" and "resume" only
record a request: the scheduler or `digest worker` sends within seconds, never this request.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from digest import editors
from digest.db import session_scope
from digest.errors import Conflict, DigestError, NotFound
from digest.web.deps import SettingsDep, get_engine, now
from digest.web.editor_auth import DeskEditor, EditorForm, EditorPost, csrf_token
from digest.web.fallback import redirect_to
from digest.web.pages import render_page

router = APIRouter(prefix="/editor", tags=["editor"])

FLASH = {
    "approved": "Approved. With review required, the scheduled run sends it as it stands now.",
    "held": "Held: the approval is withdrawn; the scheduled run will not send it unapproved.",
    "send-requested": "Send requested: it starts within seconds (the scheduler or a worker).",
    "send-pending": "A send was already requested for this issue; it starts within seconds.",
    "paused": "Paused: no more batches go out until an editor resumes it.",
    "resume-requested": "Resume requested: it continues within seconds.",
}
AUDIT_PAGE = 50


def flash_text(request: Request) -> str | None:
    """The sentence for the `?done=` a desk action redirected with (unknown values: none)."""
    return FLASH.get(request.query_params.get("done", ""))


def back_path(form_value: str, number: int) -> str:
    """Where to go after an action: the form's `back` when it is a desk path, else the issue."""
    value = form_value.strip()
    safe = value.startswith("/editor") and "//" not in value and "\\" not in value
    if safe and value.isprintable() and len(value) <= 200:
        return value.split("?")[0]
    return f"/editor/issues/{number}"


def parse_number(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 10:
        raise NotFound(f"there is no issue #{raw[:20]}")
    return int(raw)


def _act(
    request: Request,
    form: EditorPost,
    raw_number: str,
    action: Callable[[Session, int], str],
) -> Response:
    """Run `action` (which returns the `done` key) in one transaction; refusals as pages."""
    try:
        number = parse_number(raw_number)
    except NotFound as exc:
        return refusal_page(request, exc, back="/editor")
    back = back_path(form.get("back"), number)
    try:
        with session_scope(get_engine(request)) as session:
            done = action(session, number)
    except DigestError as exc:
        return refusal_page(request, exc, back=back)
    return redirect_to(request, f"{back}?done={done}")


def refusal_page(request: Request, exc: DigestError, *, back: str) -> Response:
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422
    context = {
        "title": "Nothing was changed",
        "lines": [exc.message[:1:].upper() + exc.message[1:] + "."],
        "links": [{"url": back, "label": "Back to the desk"}],
    }
    return render_page(request, "notice.html", context, status_code=status)


@router.post("/issues/{number}/approve")
def approve(request: Request, settings: SettingsDep, number: str, form: EditorForm) -> Response:
    """Approve the next issue; with a `content` field (the hash the page showed), only if the
    issue is still what the editor saw."""

    def action(session: Session, n: int) -> str:
        seen = form.get("content").strip() or None
        editors.approve_issue(
            session, settings, number=n, actor=form.editor.actor, now=now(), seen_hash=seen
        )
        return "approved"

    return _act(request, form, number, action)


@router.post("/issues/{number}/hold")
def hold(request: Request, settings: SettingsDep, number: str, form: EditorForm) -> Response:
    def action(session: Session, n: int) -> str:
        editors.hold_issue(session, settings, number=n, actor=form.editor.actor, now=now())
        return "held"

    return _act(request, form, number, action)


@router.post("/issues/{number}/send")
def send_now(request: Request, settings: SettingsDep, number: str, form: EditorForm) -> Response:
    def action(session: Session, n: int) -> str:
        asked = editors.request_send(
            session, settings, number=n, actor=form.editor.actor, now=now()
        )
        return "send-requested" if asked.created else "send-pending"

    return _act(request, form, number, action)


@router.post("/issues/{number}/pause")
def pause(request: Request, number: str, form: EditorForm) -> Response:
    def action(session: Session, n: int) -> str:
        editors.pause_send(session, number=n, actor=form.editor.actor, now=now())
        return "paused"

    return _act(request, form, number, action)


@router.post("/issues/{number}/resume")
def resume(request: Request, number: str, form: EditorForm) -> Response:
    def action(session: Session, n: int) -> str:
        asked = editors.request_resume(session, number=n, actor=form.editor.actor, now=now())
        return "resume-requested" if asked.created else "send-pending"

    return _act(request, form, number, action)


@router.get("/audit")
def audit_page(
    request: Request, settings: SettingsDep, editor: DeskEditor, before: str = ""
) -> Response:
    """The audit log, newest first, AUDIT_PAGE entries a page ("Older" pages on by id)."""
    before_id = int(before) if before.isdigit() and len(before) <= 12 else None
    with session_scope(get_engine(request), read_only=True) as session:
        entries = editors.recent_audit(session, AUDIT_PAGE + 1, before_id=before_id)
    older = entries[AUDIT_PAGE - 1].id if len(entries) > AUDIT_PAGE else None
    context = {
        "entries": entries[:AUDIT_PAGE],
        "older": older,
        "first_page": before_id is None,
        "csrf": csrf_token(settings, editor.session_id),
        "editor": editor,
    }
    return render_page(request, "editor_audit.html", context)
