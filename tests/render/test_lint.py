"""The leftover-placeholder check looks for what our templates left, never at the content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.issues import preview_next_issue, set_overrides
from digest.render import RenderedEmail, passed
from digest.render.engine import environment, render_checked, render_email
from digest.render.lint import check_placeholders
from tests.support.issue_data import comparison_doc, import_docs

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TEMPLATE_TALK = [
    "{{ name }}",
    "{% if user %}hi{% endif %}",
    "{# a comment #}",
    "{{ subject }} and {{7*7}}",
    "{%raw%}{{x}}{%endraw%}",
    "a { brace, }} and {",
    "<mj-text>not a tag</mj-text>",
]


@pytest.mark.parametrize("talk", TEMPLATE_TALK)
def test_content_about_templates_passes(
    sqlite_engine: Engine, sqlite_settings: Settings, talk: str
) -> None:
    doc = comparison_doc(1, NOW - timedelta(hours=1))
    doc["title"] = f"Jinja vs Liquid: {talk}"
    doc["tools"][0]["name"] = f"Jinja {talk}"
    doc["tools"][0]["tagline"] = talk
    import_docs(sqlite_engine, [doc], now=NOW)
    # The note is Markdown (issue 13): raw HTML is refused, so a literal tag is written \<.
    note = f"About {talk}".replace("<", "\\<")
    with session_scope(sqlite_engine) as session:
        set_overrides(session, sqlite_settings, subject=None, note=note, now=NOW)
    with session_scope(sqlite_engine, read_only=True) as session:
        preview = preview_next_issue(session, sqlite_settings, now=NOW)
    assert preview.email.leftovers == ()
    assert passed(preview.checks), [c for c in preview.checks if not c.ok]
    assert f"Jinja {talk}" in preview.email.text and f"About {talk}" in preview.email.text


def test_a_template_leftover_is_found_and_blocks() -> None:
    """A template that leaves Jinja syntax unrendered fails, even beside content that talks
    about templates (which is not counted)."""
    template = environment().from_string(
        "{% raw %}Dear {{ first_name }},{% endraw %} <b>{{ content }}</b> {{ content }}"
    )
    rendered, leftovers = render_checked(template, {"content": "{{ 7*7 }} {% if <x> %}"})
    assert "{% if &lt;x&gt; %}" in rendered and "{{ 7*7 }}" in rendered
    assert len(leftovers) == 1 and "{{ first_name }}" in leftovers[0]
    email = RenderedEmail("s", "", "<p>x</p>", "x", leftovers=leftovers)
    check = check_placeholders(email)
    assert not check.ok and check.blocking and "first_name" in check.detail


def test_the_real_templates_leave_nothing() -> None:
    context = {
        "subject": "{{ s }}",
        "newsletter_name": "{% n %}",
        "confirm_url": "https://digest.test/confirm/{{x}}",
        "preferences_url": "https://digest.test/preferences/x",
        "postal_address": "{# 1 Street #}",
        "preheader": "{{",
        "expires_days": 7,
    }
    email = render_email("confirm", context)
    assert email.leftovers == () and check_placeholders(email).ok
    assert "{# 1 Street #}" in email.text and "{% n %}" in email.html
