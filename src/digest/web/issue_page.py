"""What the web page of a sent issue shows: the issue as a page of our site, not the email.

Its cards (every comparison in full), the editor's note, and what makes it shareable: a
canonical link, Open Graph and Twitter tags, JSON-LD, a share image and share links. The same
content, without the page around it, is each Atom entry's full content.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from markupsafe import Markup
from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest import catalog, issues, links
from digest.config import Settings
from digest.db import session_scope
from digest.models import Issue
from digest.render import Card, ShareCard, build_card, markdown_html, render_share_image
from digest.web.deps import get_engine
from digest.web.pages import templates
from digest.web.published import published

MAX_CACHED_CARDS = 64  # issues whose cards are kept built, per process
_CARDS: dict[tuple[Settings, int | None, datetime | None, str], list[Card]] = {}
_CONTEXTS: dict[tuple[Settings, int | None, datetime | None, str], dict[str, Any]] = {}


def issue_cards(session: Session, settings: Settings, issue: Issue) -> list[Card]:
    """Every comparison the issue carried, newest first, as cards."""
    composition = issues.carried_composition(session, issue)
    views = composition.all if composition else ()
    return [build_card(view, settings.site_url) for view in views]


def cached_cards(
    engine: Engine, settings: Settings, issue: Issue, version: catalog.CatalogVersion
) -> list[Card]:
    """`issue_cards`, built once per published issue and catalog version: which comparisons
    a frozen issue carries never changes, and their content changes only with the catalog."""
    key = (settings, issue.id, issue.frozen_at, version.tag)
    cards = _CARDS.get(key)
    if cards is None:
        with session_scope(engine, read_only=True) as session:
            cards = issue_cards(session, settings, issue)
        if len(_CARDS) >= MAX_CACHED_CARDS:
            _CARDS.clear()
        _CARDS[key] = cards
    return cards


def content_context(settings: Settings, issue: Issue, cards: list[Card]) -> dict[str, Any]:
    return {
        "settings": settings,
        "cards": cards,
        "note": markdown_html(issue.editor_note) if issue.editor_note else None,
    }


def issue_content(settings: Settings, issue: Issue, cards: list[Card]) -> str:
    """The page's content alone (the note and the cards), for the Atom feed."""
    template = templates.env.get_template("issue_content.html")
    return template.render(content_context(settings, issue, cards))


def cached_page_context(
    engine: Engine, settings: Settings, issue: Issue, version: catalog.CatalogVersion
) -> dict[str, Any]:
    """`page_context` (all but the form stamp), made once per issue and catalog version like
    its cards (~0.5 ms a request otherwise). Callers copy it before adding to it."""
    key = (settings, issue.id, issue.frozen_at, version.tag)
    context = _CONTEXTS.get(key)
    if context is None:
        context = page_context(settings, issue, cached_cards(engine, settings, issue, version))
        if len(_CONTEXTS) >= MAX_CACHED_CARDS:
            _CONTEXTS.clear()
        _CONTEXTS[key] = context
    return context


def page_context(settings: Settings, issue: Issue, cards: list[Card]) -> dict[str, Any]:
    url = links.issue_url(settings, issue.number)
    local = issue.frozen_at.astimezone(settings.tz) if issue.frozen_at else None
    description = issue.preheader or issue.subject or settings.newsletter_name
    return {
        **content_context(settings, issue, cards),
        "issue": issue,
        "canonical": url,
        "share_image": f"{url}/share.png",
        "description": description,
        "date": f"{local.day} {local:%B %Y}" if local else None,
        "published": local.isoformat(timespec="seconds") if local else None,
        "json_ld": json_ld(settings, issue, url, description),
        "share_links": share_links(url, issue.subject or ""),
        "schedule": issues.describe_schedule(settings),
    }


def json_ld(settings: Settings, issue: Issue, url: str, description: str) -> Markup:
    """schema.org Article, as JSON that cannot close its <script> element whatever it holds."""
    data = {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": (issue.subject or "")[:110],
        "description": description,
        "url": url,
        "mainEntityOfPage": url,
        "image": f"{url}/share.png",
        "datePublished": issue.frozen_at.isoformat() if issue.frozen_at else None,
        "author": {"@type": "Organization", "name": settings.newsletter_name},
        "publisher": {"@type": "Organization", "name": settings.newsletter_name},
        "isPartOf": {"@type": "Periodical", "name": settings.newsletter_name},
        "issueNumber": issue.number,
    }
    text = json.dumps(data, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)  # noqa: S704  (JSON with <, > and & escaped: it cannot end the element)


def share_links(url: str, subject: str) -> list[dict[str, str]]:
    mail = f"mailto:?subject={quote(subject)}&body={quote(url)}"
    return [
        {
            "label": "Share on X",
            "url": "https://x.com/intent/post?" + urlencode({"url": url, "text": subject}),
        },
        {
            "label": "Share on LinkedIn",
            "url": "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": url}),
        },
        {
            "label": "Share on Bluesky",
            "url": "https://bsky.app/intent/compose?" + urlencode({"text": f"{subject} {url}"}),
        },
        {"label": "Share by email", "url": mail},
    ]


def share_png(settings: Settings, issue: Issue, cards: list[Card]) -> bytes:
    local = issue.frozen_at.astimezone(settings.tz) if issue.frozen_at else None
    card = ShareCard(
        newsletter=settings.newsletter_name,
        number=issue.number,
        date=f"{local.day} {local:%B %Y}" if local else "",
        subject=issue.subject or "",
        cards=tuple(cards[:3]),
        site=settings.base_url.split("://", 1)[-1],
    )
    return render_share_image(card)


SAMPLE_CARDS = 3


def front_context(request: Request, settings: Settings, ticked: Sequence[str]) -> dict[str, Any]:
    """The front page's topic boxes (as ticked), when issues go out, and a taste of the latest
    issue (from the app's reading of the store: published.py)."""
    state = published(request)
    boxes = [{"slug": t.slug, "name": t.name, "checked": t.slug in ticked} for t in state.topics]
    latest, sample = state.latest, []
    if latest is not None:
        sample = cached_cards(get_engine(request), settings, latest, state.version)[:SAMPLE_CARDS]
    return {
        "latest": latest,
        "topics": boxes,
        "schedule": issues.describe_schedule(settings),
        "sample": sample,
    }
