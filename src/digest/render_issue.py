"""Render one weekly issue (templates/email/issue.*) from its composition: once per issue.

The result still holds the personal markers (unsubscribe, preferences); the sender fills them
per recipient and the archive and preview fill them with `links.anonymous_values`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from digest import links
from digest.config import Settings
from digest.models import Issue
from digest.render import RenderedEmail, render_email
from digest.render_cards import build_card, make_preheader, make_subject, shorten
from digest.render_lint import SIZE_BUDGET

if TYPE_CHECKING:  # issues imports this module to freeze an issue
    from digest.issues import Composition

# Headroom under the lint budget for the personal links joined in per recipient.
FIT_BUDGET = SIZE_BUDGET - 2_000


def issue_context(
    settings: Settings, issue: Issue, composition: Composition, *, now: datetime
) -> dict[str, Any]:
    """Everything the issue templates use, as plain data."""
    featured = [build_card(view, settings.site_url) for view in composition.featured]
    more = [build_card(view, settings.site_url) for view in composition.more]
    cards = featured + more
    subject = issue.subject_override or make_subject(cards)
    local = now.astimezone(settings.tz)
    return {
        "subject": subject,
        "preheader": make_preheader(cards, issue.editor_note),
        "newsletter_name": settings.newsletter_name,
        "number": issue.number,
        "date": f"{local.day} {local:%B %Y}",
        "note": issue.editor_note,
        "featured": featured,
        "more": more,
        "count": len(cards),
        "site_url": settings.site_url,
        "base_url": settings.base_url,
        "archive_url": f"{settings.base_url}/issues",
        "view_url": links.issue_url(settings, issue.number),
        "postal_address": settings.postal_address,
        "shorten": shorten,
    }


def render_issue(
    settings: Settings, issue: Issue, composition: Composition, *, now: datetime
) -> RenderedEmail:
    """The issue's subject, preheader, HTML and text, markers still in place."""
    return render_fitted(settings, issue, composition, now=now)[0]


def render_fitted(
    settings: Settings, issue: Issue, composition: Composition, *, now: datetime
) -> tuple[RenderedEmail, Composition]:
    """Render; while the HTML is over budget, the oldest full card moves to the compact list.

    Gmail clips big messages and hides the footer with the unsubscribe link, so a long week
    (or a large DIGEST_MAX_COMPARISONS) trades full cards for list entries, never for silence.
    """
    while True:
        email = render_email("issue", issue_context(settings, issue, composition, now=now))
        if len(email.html.encode()) <= FIT_BUDGET or len(composition.featured) <= 1:
            return email, composition
        composition = composition.demote_last()
