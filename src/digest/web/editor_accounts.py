"""GET /editor/accounts and POST /editor/accounts/add|remove|owner: owners manage accounts.

Anyone else logged in gets a 403 page saying so, and nothing changes. A new account gets the
password typed in the form, or a generated one shown once on the answer page (never stored in
clear, never in a URL). The last owner can be neither removed nor demoted (editors.accounts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from digest import editors
from digest.db import session_scope
from digest.errors import Conflict, DigestError, NotFound
from digest.web.deps import SettingsDep, get_engine, now
from digest.web.editor_auth import DeskEditor, Editor, EditorForm, EditorPost, csrf_token
from digest.web.fallback import redirect_to
from digest.web.pages import render_page

router = APIRouter(prefix="/editor/accounts", tags=["editor"])

DONE = {
    "removed": "Account removed; its sessions ended.",
    "owner": "Role changed.",
}


@router.get("")
def accounts_page(request: Request, settings: SettingsDep, editor: DeskEditor) -> Response:
    if not editor.owner:
        return not_an_owner(request)
    notice = DONE.get(request.query_params.get("done", ""))
    return _page(request, editor, notice=notice)


@router.post("/add")
def add(request: Request, form: EditorForm) -> Response:
    if not form.editor.owner:
        return not_an_owner(request)
    email, typed = form.get("email"), form.get("password")
    password = typed or editors.generate_password()
    try:
        with session_scope(get_engine(request)) as session:
            account = editors.add_account(
                session,
                email,
                password,
                owner=form.get("owner") == "1",
                actor=form.editor.actor,
                now=now(),
            )
            address = account.email
    except DigestError as exc:
        return _page(request, form.editor, error=exc.message, status_code=_status(exc), email=email)
    notice = f"Added {address}."
    shown = None if typed else password  # a generated password is shown once, here
    return _page(request, form.editor, notice=notice, generated=shown, generated_for=address)


@router.post("/remove")
def remove(request: Request, form: EditorForm) -> Response:
    if not form.editor.owner:
        return not_an_owner(request)
    return _change(
        request,
        form,
        "removed",
        lambda session: editors.remove_account(
            session, form.get("email"), actor=form.editor.actor, now=now()
        ),
    )


@router.post("/owner")
def owner(request: Request, form: EditorForm) -> Response:
    if not form.editor.owner:
        return not_an_owner(request)
    make = form.get("owner") == "1"
    return _change(
        request,
        form,
        "owner",
        lambda session: editors.set_owner(
            session, form.get("email"), make, actor=form.editor.actor, now=now()
        ),
    )


def _change(
    request: Request, form: EditorPost, done: str, change: Callable[[Session], object]
) -> Response:
    try:
        with session_scope(get_engine(request)) as session:
            change(session)
    except DigestError as exc:
        return _page(request, form.editor, error=exc.message, status_code=_status(exc))
    return redirect_to(request, f"/editor/accounts?done={done}")


def _status(exc: DigestError) -> int:
    return 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422


def not_an_owner(request: Request) -> Response:
    context = {
        "title": "Only owners manage accounts",
        "lines": [
            "Your account is not an owner's, so it cannot see or change editor accounts. "
            "Nothing was changed. Ask an owner (or run `digest editors` on the server)."
        ],
        "links": [{"url": "/editor", "label": "Back to the desk"}],
    }
    return render_page(request, "notice.html", context, status_code=403)


def _page(request: Request, editor: Editor, *, status_code: int = 200, **context: Any) -> Response:
    with session_scope(get_engine(request), read_only=True) as session:
        accounts = editors.list_accounts(session)
    values: dict[str, Any] = {
        "accounts": accounts,
        "editor": editor,
        "csrf": csrf_token(request.app.state.settings, editor.session_id),
        "notice": None,
        "error": None,
        "generated": None,
        "generated_for": None,
        "email": "",
        "min_password": editors.MIN_PASSWORD,
    }
    values.update(context)
    return render_page(request, "editor_accounts.html", values, status_code=status_code)
