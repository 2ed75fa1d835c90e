"""Render: data in, `RenderedEmail` out. Pure: no `Session`, no transport, no clock.

    engine.py    Jinja2 -> MJML -> HTML plus the text twin; RenderedEmail; the personal markers
    wrap.py      long words fit a phone in every client: <wbr>, not CSS the clients ignore
    personal.py  join per-recipient values into a frozen body; `public_copy` for copies nobody owns;
                 `compile_links`/`link_values` for the confirmation and data-link emails
    cards.py     plain view models: one card per comparison, the subject, the preheader
    issue.py     the weekly issue's context and render, from its featured and compact comparisons
    lint.py      checks before anyone receives it: size, links, leftovers, unsubscribe, subject
    markdown.py  the editor's note: a safe Markdown subset to HTML and text, and its checks
    welcome.py   the welcome email, from the latest issue's cards (or what to expect)
    share_image.py  an issue's 1200x630 share image (PNG), drawn from its cards
    feed.py      the archive's Atom feed

Rule: everything here takes plain data and returns text; reading the store is the caller's job
(`issues/` composes and freezes, `delivery/` fills per recipient).
"""

from digest.render.cards import Card, build_card
from digest.render.engine import RenderedEmail, render_email
from digest.render.feed import render_feed
from digest.render.issue import render_issue
from digest.render.lint import SIZE_BUDGET, LintCheck, lint_email, passed
from digest.render.markdown import check_markdown, markdown_html, markdown_text
from digest.render.personal import (
    CompiledBody,
    compile_body,
    compile_links,
    link_values,
    markers,
    personal_values,
    public_copy,
)
from digest.render.share_image import ShareCard, render_share_image
from digest.render.welcome import LatestIssue, render_welcome

__all__ = [
    "SIZE_BUDGET",
    "Card",
    "CompiledBody",
    "LatestIssue",
    "LintCheck",
    "RenderedEmail",
    "ShareCard",
    "build_card",
    "check_markdown",
    "compile_body",
    "compile_links",
    "link_values",
    "lint_email",
    "markdown_html",
    "markdown_text",
    "markers",
    "passed",
    "personal_values",
    "public_copy",
    "render_email",
    "render_feed",
    "render_issue",
    "render_share_image",
    "render_welcome",
]
