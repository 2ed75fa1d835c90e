"""Render one weekly issue (templates/email/issue.*) from its cards: once per issue, and once
per topic variant (the same template, the week's comparisons in those topics, and a line saying
which topics they are).

The result still holds the personal markers (unsubscribe, preferences, greeting); the sender
fills them per recipient and the archive and preview fill them with `links.anonymous_values`.
Which comparisons get a full card and which go to the compact list is the caller's decision
(`issues.fit_issue` demotes cards until the email fits the size budget).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from digest import links
from digest.catalog import ComparisonView
from digest.config import Settings
from digest.models import Issue
from digest.render.cards import build_card, make_preheader, make_subject, shorten
from digest.render.engine import RenderedEmail, render_email
from digest.render.markdown import markdown_html, markdown_text


def issue_context(
    settings: Settings,
    issue: Issue,
    featured: Sequence[ComparisonView],
    more: Sequence[ComparisonView],
    *,
    now: datetime,
    topics: Sequence[str] = (),
    pick: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the issue templates use, as plain data. `topics`: the names a variant was
    picked for (none for the issue everyone else gets); `pick`: the "Readers' pick" (title,
    URL) from last issue's clicks, if any."""
    featured_cards = [build_card(view, settings.site_url) for view in featured]
    more_cards = [build_card(view, settings.site_url) for view in more]
    cards = featured_cards + more_cards
    subject = issue.subject_override or make_subject(cards)
    local = now.astimezone(settings.tz)
    note = issue.editor_note
    return {
        "subject": subject,
        "preheader": make_preheader(cards, markdown_text(note, marks=False) if note else None),
        "newsletter_name": settings.newsletter_name,
        "number": issue.number,
        "date": f"{local.day} {local:%B %Y}",
        "note": markdown_html(note) if note else None,
        "note_text": markdown_text(note) if note else None,
        "topics": list(topics),
        "featured": featured_cards,
        "more": more_cards,
        "count": len(cards),
        "site_url": settings.site_url,
        "base_url": settings.base_url,
        "archive_url": f"{settings.base_url}/issues",
        "view_url": links.issue_url(settings, issue.number),
        "postal_address": settings.postal_address,
        "click_note": click_note(settings),
        "pick": {"title": pick[0], "url": pick[1]} if pick else None,
        "shorten": shorten,
    }


CLICK_NOTES = {
    "off": "",
    "aggregate": "Links to comparisons are counted in aggregate; we never record who clicked.",
    "consented": "Links to comparisons are counted in aggregate; who clicked is recorded only "
    "for readers who opted in.",
}


def click_note(settings: Settings) -> str:
    """The footer's line on link tracking (DIGEST_TRACK_CLICKS); empty when links are as-is."""
    return CLICK_NOTES[settings.track_clicks.value]


def render_issue(
    settings: Settings,
    issue: Issue,
    featured: Sequence[ComparisonView],
    more: Sequence[ComparisonView],
    *,
    now: datetime,
    topics: Sequence[str] = (),
    pick: tuple[str, str] | None = None,
) -> RenderedEmail:
    """The issue's subject, preheader, HTML and text, markers still in place."""
    context = issue_context(settings, issue, featured, more, now=now, topics=topics, pick=pick)
    return render_email("issue", context)
