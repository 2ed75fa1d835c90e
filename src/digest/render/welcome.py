"""The welcome email (templates/email/welcome.*): sent once, when a reader confirms.

It carries the latest issue's cards in the reader's topics, or, before the first issue (or when
the latest had nothing in their topics), what to expect and when. Like the weekly issue it is
rendered with the personal markers in place (links, greeting) and filled per recipient, so a
name never reaches the MJML and one compiled body serves every reader of the same issue and
topic set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest import links
from digest.catalog import ComparisonView
from digest.config import Settings
from digest.render.cards import build_card
from digest.render.engine import RenderedEmail, render_email

WELCOME_CARDS = 5  # the welcome shows a taste, the issue on the web has the rest


@dataclass(frozen=True)
class LatestIssue:
    number: int
    frozen_at: datetime
    views: tuple[ComparisonView, ...]  # the reader's topics' comparisons, in the issue's order


def render_welcome(
    settings: Settings,
    *,
    latest: LatestIssue | None,
    next_issue: str,
    schedule: str,
    topics: Sequence[str] | None,
) -> RenderedEmail:
    """`next_issue` and `schedule` in words ("Monday 30 November, 08:00 Europe/Berlin"); `topics`
    the reader's topic names, None for every topic."""
    cards = [build_card(view, settings.site_url) for view in latest.views] if latest else []
    shown = cards[:WELCOME_CARDS]
    context = {
        "subject": f"Welcome to {settings.newsletter_name}",
        "preheader": f"You're in. Issues go out {schedule}; the next one {next_issue}.",
        "newsletter_name": settings.newsletter_name,
        "schedule": schedule,
        "next_issue": next_issue,
        "topics": list(topics) if topics is not None else None,
        "number": latest.number if latest else None,
        "date": _date(settings, latest.frozen_at) if latest else None,
        "issue_url": links.issue_url(settings, latest.number) if latest else None,
        "cards": shown,
        "more": len(cards) - len(shown),
        "archive_url": f"{settings.base_url}/issues",
        "postal_address": settings.postal_address,
    }
    return render_email("welcome", context)


def _date(settings: Settings, moment: datetime) -> str:
    local = moment.astimezone(settings.tz)
    return f"{local.day} {local:%B %Y}"
