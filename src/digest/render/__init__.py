"""Render: data in, `RenderedEmail` out. Pure: no `Session`, no transport, no clock.

    engine.py    Jinja2 -> MJML -> HTML plus the text twin; RenderedEmail; the personal markers
    wrap.py      long words fit a phone in every client: <wbr>, not CSS the clients ignore
    personal.py  join per-recipient values into a frozen body; `public_copy` for copies nobody owns
    cards.py     plain view models: one card per comparison, the subject, the preheader
    issue.py     the weekly issue's context and render, from its featured and compact comparisons
    lint.py      checks before anyone receives it: size, links, leftovers, unsubscribe, subject
    feed.py      the archive's Atom feed

Rule: everything here takes plain data and returns text; reading the store is the caller's job
(`issues/` composes and freezes, `delivery/` fills per recipient).
"""

from digest.render.engine import RenderedEmail, render_email
from digest.render.feed import render_feed
from digest.render.issue import render_issue
from digest.render.lint import SIZE_BUDGET, LintCheck, lint_email, passed
from digest.render.personal import compile_body, public_copy

__all__ = [
    "SIZE_BUDGET",
    "LintCheck",
    "RenderedEmail",
    "compile_body",
    "lint_email",
    "passed",
    "public_copy",
    "render_email",
    "render_feed",
    "render_issue",
]
