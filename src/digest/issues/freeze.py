"""Freeze the weekly issue: fit its cards into the size budget, render it, store it for good.

Freezing is a conditional UPDATE (`... WHERE frozen_at IS NULL`): of two processes freezing at
once, one writes the copy and the comparisons it carries; the other re-reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from digest.clicks.pick import readers_pick
from digest.clicks.size import tracking_overhead
from digest.config import Settings
from digest.errors import NothingToSend
from digest.issues.compose import Composition, compose_issue
from digest.models import Issue, IssueComparison, IssueStatus
from digest.render import SIZE_BUDGET, RenderedEmail, render_issue

# Headroom under the lint budget for the personal links joined in per recipient.
FIT_BUDGET = SIZE_BUDGET - 2_000


def fit_issue(
    settings: Settings,
    issue: Issue,
    composition: Composition,
    *,
    now: datetime,
    topics: Sequence[str] = (),
    pick: tuple[str, str] | None = None,
) -> tuple[RenderedEmail, Composition]:
    """Render; while the HTML is over budget, the oldest full card moves to the compact list.

    Gmail clips big messages and hides the footer with the unsubscribe link, so a long week
    (or a large DIGEST_MAX_COMPARISONS) trades full cards for list entries, never for silence.
    `topics`: the names a topic variant is picked for (see variants.py).
    """
    while True:
        email = render_issue(
            settings,
            issue,
            composition.featured,
            composition.more,
            now=now,
            topics=topics,
            pick=pick,
        )
        if (
            len(email.html.encode()) <= budget(settings, composition)
            or len(composition.featured) <= 1
        ):
            return email, composition
        composition = composition.demote_last()


def budget(settings: Settings, composition: Composition) -> int:
    """FIT_BUDGET less what tracked links will add when sent (two links per full card)."""
    site = settings.site_url
    hrefs = [view.link(site) for view in composition.featured] * 2
    hrefs += [view.link(site) for view in composition.more]
    return FIT_BUDGET - tracking_overhead(settings, hrefs)


def freeze_issue(session: Session, settings: Settings, issue: Issue, *, now: datetime) -> Issue:
    """Compose, render and store the issue for good; an already frozen issue is returned as is.

    The conditional UPDATE is the lock: of two processes freezing at once, one writes and the
    other finds `frozen_at` set and returns the stored, byte-identical copy.
    """
    session.refresh(issue)
    if issue.frozen_at is not None:
        return issue
    try:
        composition = compose_issue(session, settings, now=now)
    except NothingToSend:
        # Another process may have frozen this very issue since the refresh above: its
        # comparisons now count as carried, so composing finds nothing. That is success.
        session.refresh(issue)
        if issue.frozen_at is not None:
            return issue
        raise
    pick = readers_pick(session, settings, number=issue.number)
    rendered, composition = fit_issue(settings, issue, composition, now=now, pick=pick)
    if _store_frozen(session, issue, rendered, composition, now=now):
        _record_comparisons(session, issue, composition)
    session.refresh(issue)
    return issue


def _store_frozen(
    session: Session,
    issue: Issue,
    rendered: RenderedEmail,
    composition: Composition,
    *,
    now: datetime,
) -> bool:
    """Write the frozen copy unless another process already did; True if this one wrote it."""
    won = session.execute(
        update(Issue)
        .where(col(Issue.id) == issue.id, col(Issue.frozen_at).is_(None))
        .values(
            status=IssueStatus.SENDING,
            frozen_at=now,
            window_start=composition.window_start,
            cutoff=composition.cutoff,
            subject=rendered.subject,
            preheader=rendered.preheader,
            html=rendered.html,
            text=rendered.text,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(won.rowcount)  # type: ignore[attr-defined]


def _record_comparisons(session: Session, issue: Issue, composition: Composition) -> None:
    assert issue.id is not None
    for position, view in enumerate(composition.all):
        assert view.comparison.id is not None
        session.add(
            IssueComparison(
                issue_id=issue.id,
                comparison_id=view.comparison.id,
                position=position,
                featured=position < len(composition.featured),
            )
        )
    session.flush()
