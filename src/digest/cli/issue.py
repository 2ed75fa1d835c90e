"""`digest issue preview|edit|list|show`, `send` from cli/send.py, and
`approve|hold|pause|resume` from cli/review.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from digest.cli import review, send
from digest.cli.common import (
    NowOption,
    cli_actor,
    console,
    err_console,
    load_settings,
    make_table,
    open_engine,
    parse_time,
    plain,
    shown,
)
from digest.errors import NothingToSend

if TYPE_CHECKING:  # imported where used, so that `digest --help` stays fast (common.py)
    from digest.issues import Preview
    from digest.models import Issue

app = typer.Typer(help="Compose, preview, send and list weekly issues.", no_args_is_help=True)

DEFAULT_PREVIEW = Path("preview") / "next-issue.html"


@app.command("preview")
def preview_command(
    now: NowOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="FILE", help=f"Write the HTML here [default: {DEFAULT_PREVIEW}]."
        ),
    ] = None,
    text: Annotated[
        bool, typer.Option("--text", help="Print the plain-text part instead of writing HTML.")
    ] = False,
    topics: Annotated[
        str | None,
        typer.Option("--topics", help="The variant for these topic slugs (comma-separated)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Greet as a reader of this name (default: no name given)."),
    ] = None,
) -> None:
    """Render the next issue exactly as it would go out; print its subject, size and lint.

    Exits 1 when a blocking check fails (size, links, placeholders, unsubscribe link).
    """
    from digest import catalog, issues
    from digest.db import session_scope
    from digest.issues import preview_next_issue
    from digest.render import passed, public_copy

    settings, moment = load_settings(), parse_time(now)
    with session_scope(open_engine(settings), read_only=True) as session:
        plan = issues.next_issue(session, settings, now=moment)
        chosen = None
        if topics is not None:
            picked = catalog.resolve_slugs(session, [s.strip() for s in topics.split(",")])
            chosen = frozenset(topic.id for topic in picked if topic.id is not None)
        try:
            preview = preview_next_issue(session, settings, now=moment, topics=chosen)
        except NothingToSend as exc:
            console.print(f"Nothing to preview: {shown(exc.message)}.")
            console.print(f"Next: {shown(plan.describe())}")
            return
    copy = public_copy(settings, preview.email, name=name)
    if text:
        typer.echo(plain(copy.text), nl=False)
    else:
        target = out or DEFAULT_PREVIEW
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(copy.html, encoding="utf-8")
    out_console = err_console if text else console
    if plan.resuming:  # an issue still being sent goes first; the preview is the one after
        out_console.print(f"First: {shown(plan.describe())}")
    print_summary(out_console, preview)
    if not text:
        console.print(f"Wrote {shown((out or DEFAULT_PREVIEW).resolve())}")
    if not passed(preview.checks):
        raise typer.Exit(1)


def print_summary(out: Console, preview: Preview) -> None:
    issue, email = preview.issue, preview.email
    start, cutoff = preview.composition.window_start, preview.composition.cutoff
    window = f"{start:%Y-%m-%d %H:%M} .. {cutoff:%Y-%m-%d %H:%M} UTC"
    out.print(f"Issue #{issue.number} ({shown(issue.period)}), comparisons published {window}")
    out.print(f"Next: {shown(preview.plan.describe())}")
    out.print(f"Subject:   {shown(email.subject)}")
    out.print(f"Preheader: {shown(email.preheader)}")
    out.print(
        f"Cards: {len(preview.composition.featured)} full, "
        f"{len(preview.composition.more)} in 'More verdicts this week'"
    )
    for check in preview.checks:
        mark = (
            "[green]ok  [/green]"
            if check.ok
            else ("[red]FAIL[/red]" if check.blocking else "[yellow]warn[/yellow]")
        )
        out.print(f"{mark} {check.name}: {shown(check.detail)}")


@app.command("edit")
def edit_command(
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject", metavar="TEXT", help='Subject of the next issue ("" = generated).'
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option("--note", metavar="TEXT", help='Editor\'s note at the top ("" = none).'),
    ] = None,
    now: NowOption = None,
) -> None:
    """Set the next issue's subject and/or editor's note before it is sent."""
    from digest import editors, issues
    from digest.db import session_scope

    if subject is None and note is None:
        raise typer.BadParameter("give --subject and/or --note", param_hint="--subject/--note")
    settings, moment = load_settings(), parse_time(now)
    with session_scope(open_engine(settings)) as session:
        draft = issues.find_draft(session)
        issue = editors.edit_issue(  # audited; withdraws an approval of the old content
            session,
            settings,
            subject=subject if subject is not None else (draft.subject_override if draft else None),
            note=note if note is not None else (draft.editor_note if draft else None),
            actor=cli_actor(),
            now=moment,
        )
        plan = issues.upcoming_issue(session, settings, now=moment)
    console.print(f"Issue #{issue.number} ({shown(issue.period)}):")
    console.print(f"  subject: {shown(issue.subject_override or '(generated from the content)')}")
    console.print(f"  note:    {shown(issue.editor_note or '(none)')}")
    console.print(f"Next: {shown(plan.describe())}")


@app.command("list")
def list_command() -> None:
    """List issues, newest first, with their status and subject."""
    from digest import delivery, issues
    from digest.db import session_scope

    settings = load_settings()
    with session_scope(open_engine(settings), read_only=True) as session:
        rows = issues.list_issues(session)
        ledgers = {i.id: delivery.issue_counts(session, i.id) for i in rows if i.id is not None}
    if not rows:
        console.print("No issues yet. See the next one with: digest issue preview")
        return
    columns = ("sent", "failed", "skipped", "queued")
    table = make_table(
        "#", "Period", "Status", "Frozen (UTC)", *(c.capitalize() for c in columns), "Subject"
    )
    for issue in rows:
        frozen = issue.frozen_at.strftime("%Y-%m-%d %H:%M") if issue.frozen_at else "-"
        subject = issue.subject or issue.subject_override or "(not composed yet)"
        n = ledgers.get(issue.id or 0, {})
        counts = [str(n.get(k, 0)) for k in columns]
        table.add_row(
            str(issue.number),
            shown(issue.period),
            shown(issue.status),
            frozen,
            *counts,
            shown(subject),
        )
    console.print(table)


app.command("send")(send.send_command)
app.command("approve")(review.approve_command)
app.command("hold")(review.hold_command)
app.command("pause")(review.pause_command)
app.command("resume")(review.resume_command)


@app.command("show")
def show_command(
    number: Annotated[int, typer.Argument(metavar="N", help="The issue's number.")],
) -> None:
    """One issue: status, subject, and its ledger (deliveries and batches by status)."""
    from digest import delivery
    from digest.db import session_scope

    settings = load_settings()
    with session_scope(open_engine(settings), read_only=True) as session:
        issue = delivery.issue_by_number(session, number)
        assert issue.id is not None
        counts = delivery.issue_counts(session, issue.id)
        batches = delivery.batch_counts(session, issue.id)
        reasons = delivery.failure_reasons(session, issue.id)
    table = make_table("", "", show_header=False, box=None)
    for label, value in issue_rows(issue, counts, batches):
        table.add_row(label, shown(value))
    console.print(table)
    for reason, n in reasons:
        console.print(f"  {n} failed: {shown(reason)}")


def _approval(issue: Issue, stamp: str) -> str:
    if issue.approved_at is None:
        return "-"
    return f"by {issue.approved_by} at {issue.approved_at.strftime(stamp)}"


def issue_rows(
    issue: Issue, counts: dict[str, int], batches: dict[str, int]
) -> list[tuple[str, str]]:
    stamp = "%Y-%m-%d %H:%M UTC"
    return [
        ("Issue", f"#{issue.number} ({issue.period})"),
        ("Status", str(issue.status) + (f" — {issue.pause_reason}" if issue.pause_reason else "")),
        ("Subject", issue.subject or "-"),
        ("Frozen", issue.frozen_at.strftime(stamp) if issue.frozen_at else "-"),
        ("Sent", issue.sent_at.strftime(stamp) if issue.sent_at else "-"),
        ("Approved", _approval(issue, stamp)),
        ("Deliveries", " · ".join(f"{k} {v}" for k, v in counts.items())),
        ("Batches", " · ".join(f"{k} {v}" for k, v in batches.items())),
    ]
