"""A 300-character word fits a 375 px phone in a real Chromium that, like Gmail, Outlook and
Yahoo, ignores the wrapping CSS (overflow-wrap, word-break, white-space, hyphens)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from digest import issues
from digest.config import Settings
from digest.db import session_scope
from digest.render import public_copy, render_email
from tests.support.email_css import WRAPPING_CSS, styles_of
from tests.support.issue_data import import_docs, week_of

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
WORD = "W" * 300  # the widest letter, no break anywhere
# What those clients do with the properties: nothing. `!important` beats inline styles.
IGNORED_CSS = (
    "<style>*{overflow-wrap:normal!important;word-wrap:normal!important;"
    "word-break:normal!important;white-space:normal!important;hyphens:manual!important}</style>"
)
OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const out = [...document.body.querySelectorAll("*")]
    .filter(el => el.offsetParent !== null && el.getBoundingClientRect().right > width + 1)
    .map(el => el.tagName + ": " + el.textContent.trim().slice(0, 30));
  return [document.documentElement.scrollWidth, width, out.slice(0, 5)];
}
"""


def fits(browser: Any, html: str) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.set_content(html.replace("</head>", IGNORED_CSS + "</head>", 1))
    scroll, width, outside = page.evaluate(OVERFLOW_JS)
    page.close()
    assert scroll <= width and outside == [], (scroll, width, outside)


def test_the_issue_with_a_300_character_word_everywhere(
    browser: Any, sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    docs = week_of(NOW, 3)
    docs[0]["title"] = WORD
    for tool in docs[0]["tools"]:
        tool["name"] = WORD[:200]  # the longest name the catalog takes
        tool["tagline"] = tool["best_for"] = WORD
        tool["pricing"]["text"] = WORD
        tool["reviews"]["skeptic"]["text"] = WORD
    docs[2]["title"] = WORD  # a compact "more verdicts" entry too
    import_docs(sqlite_engine, docs, now=NOW)
    settings = sqlite_settings.model_copy(update={"max_comparisons": 2})
    with session_scope(sqlite_engine) as session:
        issues.set_overrides(session, settings, subject=None, note=WORD, now=NOW)
        issue = issues.freeze_issue(
            session, settings, issues.claim_issue(session, settings, now=NOW), now=NOW
        )
        email = public_copy(settings, issues.frozen_email(issue))
    assert WORD in email.html.replace("<wbr>", "")
    assert not WRAPPING_CSS.search(styles_of(email.html))
    fits(browser, email.html)


@pytest.mark.parametrize("template", ["confirm", "manage", "data"])
def test_the_transactional_emails_with_long_words(browser: Any, template: str) -> None:
    context = {
        "subject": "s",
        "preheader": "p",
        "newsletter_name": WORD,
        "postal_address": WORD,
        "confirm_url": "https://digest.test/confirm/" + "x" * 300,
        "preferences_url": "https://digest.test/preferences/" + "x" * 300,
        "data_url": "https://digest.test/data/" + "x" * 300,
        "data_minutes": 60,
        "expires_days": 7,
    }
    fits(browser, render_email(template, context).html)
