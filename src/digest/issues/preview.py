"""The next issue before it is frozen (editor preview, `digest issue preview`, the demo's file),
and the frozen copy of an issue that went out (archive, test copies).

The preview calls the same `fit_issue` that freezing calls, with the same inputs, so the
preview is the email (tests prove preview == sent, but for the recipient's own links).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from digest.clicks import readers_pick
from digest.config import Settings
from digest.errors import NothingToSend
from digest.issues.compose import Composition, compose_issue, find_draft
from digest.issues.freeze import fit_issue
from digest.issues.plan import NextIssue, upcoming_issue
from digest.issues.variants import TopicSet, render_variant
from digest.models import Issue, IssueStatus
from digest.render import LintCheck, RenderedEmail, lint_email, public_copy


@dataclass(frozen=True)
class Preview:
    issue: Issue  # unsaved: the number and overrides the next issue will have
    composition: Composition
    email: RenderedEmail  # frozen form: personal markers still in place
    checks: list[LintCheck]
    plan: NextIssue  # when it goes out, the week it is claimed for, and with what


def preview_next_issue(
    session: Session, settings: Settings, *, now: datetime, topics: TopicSet | None = None
) -> Preview:
    """Render the next issue as freezing at `now` would (with `topics`, the variant readers of
    those topics get); raises NothingToSend when empty.

    Its number and week are `issues.upcoming_issue`'s: the preview never promises an issue
    that the send would refuse."""
    composition = compose_issue(session, settings, now=now)
    plan = upcoming_issue(session, settings, now=now)
    draft = find_draft(session)
    issue = Issue(  # unsaved: nothing is written
        number=plan.number,
        period=plan.period,
        status=IssueStatus.DRAFT,
        subject_override=draft.subject_override if draft else None,
        editor_note=draft.editor_note if draft else None,
    )
    if topics is None:
        pick = readers_pick(session, settings, number=issue.number)
        email, composition = fit_issue(settings, issue, composition, now=now, pick=pick)
    else:
        variant = render_variant(session, settings, issue, composition, topics, now=now)
        if variant is None:
            raise NothingToSend("nothing new this week in those topics: those readers skip it")
        email, composition = variant
    return Preview(issue, composition, email, lint_email(email), plan)


def frozen_email(issue: Issue) -> RenderedEmail:
    """The copy an issue was frozen with (personal markers still in place)."""
    return RenderedEmail(
        subject=issue.subject or "",
        preheader=issue.preheader or "",
        html=issue.html or "",
        text=issue.text or "",
    )


def write_preview(
    session: Session, settings: Settings, *, now: datetime, target: Path
) -> Preview | None:
    """Write the next issue's web copy to `target`; None (and no file) when there is nothing new."""
    try:
        preview = preview_next_issue(session, settings, now=now)
    except NothingToSend:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(public_copy(settings, preview.email).html, encoding="utf-8")
    return preview
