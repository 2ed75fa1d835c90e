"""The rendered issue: structure of both parts, size budget, escaping, preview == sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import issues, links
from digest.config import Settings
from digest.db import session_scope
from digest.issues import Preview, preview_next_issue
from digest.models import IssueComparison
from digest.readers.subscriptions import email_hash
from digest.render import RenderedEmail, public_copy, render_email
from digest.render.engine import marker
from digest.render.lint import SIZE_BUDGET, lint_email, passed
from digest.render.personal import compile_body, personal_values
from tests.support.issue_data import comparison_doc, hostile_doc, import_docs, week_of
from tests.support.settings import make_test_settings

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class Anchors(HTMLParser):
    """Every <a>: (href, text); and the text of every <h2>."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str]] = []
        self.headings: list[str] = []
        self._href: str | None = None
        self._text: list[str] = []
        self._in_h2 = False
        self._h2: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", []
        if tag == "h2":
            self._in_h2, self._h2 = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.anchors.append((self._href, " ".join("".join(self._text).split())))
            self._href = None
        if tag == "h2":
            self._in_h2 = False
            self.headings.append(" ".join("".join(self._h2).split()))

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)
        if self._in_h2:
            self._h2.append(data)


def parse(html: str) -> Anchors:
    parser = Anchors()
    parser.feed(html)
    return parser


def preview(engine: Engine, settings: Settings, now: datetime = NOW) -> Preview:
    with session_scope(engine, read_only=True) as session:
        return preview_next_issue(session, settings, now=now)


def test_cards_links_and_footer(sqlite_engine: Engine, sqlite_settings: Settings) -> None:
    import_docs(sqlite_engine, week_of(NOW, 7), now=NOW)
    email = preview(sqlite_engine, sqlite_settings).email
    page = parse(email.html)
    titles = [
        f"Claude Files API Enterprise Edition {i} vs Modal GPU Serverless Inference Platform {i}"
        for i in range(7)
    ]
    assert page.headings == [*titles[:5], "More verdicts this week"]
    buttons = [href for href, text in page.anchors if text == "Read the full comparison"]
    assert buttons == [f"https://site.test/compare/tool-a-{i}-vs-tool-b-{i}" for i in range(5)]
    more = [text for href, text in page.anchors if text in titles[5:]]
    assert more == titles[5:] and "More verdicts this week" in email.html
    hrefs = {text: href for href, text in page.anchors}
    assert hrefs["Unsubscribe"] == marker("unsubscribe_url")
    assert hrefs["Email preferences"] == marker("preferences_url")
    assert hrefs["View in browser"] == links.issue_url(sqlite_settings, 1)
    assert sqlite_settings.postal_address in email.html
    assert "Issue #1" in email.html and "23 November 2026" in email.html


def test_card_content(sqlite_engine: Engine, sqlite_settings: Settings) -> None:
    doc = comparison_doc(1, NOW - timedelta(hours=1), verdicts=("ssss", "skks"))
    import_docs(sqlite_engine, [doc], now=NOW)
    email = preview(sqlite_engine, sqlite_settings).email
    for part in (email.html, email.text):
        assert "4 ship / 0 skip" in part and "2 ship / 2 skip" in part
        assert "100% ship" in part and "50% ship" in part
        assert "70.5" in part  # average of 60, 67, 74, 81
        assert "Skeptic" in part and "Futurist" in part and "Paid" in part
        assert "Best for" in part and "GPU-backed inference" in part
        assert "The primitive here is clean" in part  # the pull quote
    assert (
        "&#10003;&nbsp;SHIP" in email.html and "&#10007;&nbsp;SKIP" in email.html
    )  # not colour alone
    assert "Panel: SHIP" in email.text and "Panel: SKIP" in email.text


def test_text_part_is_its_own_template(sqlite_engine: Engine, sqlite_settings: Settings) -> None:
    import_docs(sqlite_engine, week_of(NOW, 6), now=NOW)
    email = preview(sqlite_engine, sqlite_settings).email
    assert not re.search(r"<[a-z/]", email.text)
    assert email.text.count("Read the full comparison: https://site.test/compare/") == 5
    assert "More verdicts this week" in email.text and "tool-a-5-vs-tool-b-5" in email.text
    assert f"Unsubscribe: {marker('unsubscribe_url')}" in email.text
    assert f"Email preferences: {marker('preferences_url')}" in email.text
    assert "View in browser: http://digest.test/issues/1" in email.text
    long_lines = [line for line in email.text.splitlines() if len(line) > 78]
    assert all(" " not in line.strip() or "http" in line for line in long_lines), long_lines


def test_five_long_cards_stay_under_the_size_budget(
    sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    import_docs(sqlite_engine, week_of(NOW, 5), now=NOW)
    result = preview(sqlite_engine, sqlite_settings)
    size = len(result.email.html.encode())
    assert 30_000 < size < SIZE_BUDGET  # long, realistic content, yet under Gmail's clip
    assert passed(result.checks), result.checks
    assert "fonts.googleapis" not in result.email.html and "@import" not in result.email.html


def test_hostile_content_is_escaped(sqlite_engine: Engine, sqlite_settings: Settings) -> None:
    import_docs(sqlite_engine, [hostile_doc(NOW - timedelta(minutes=1))], now=NOW)
    email = preview(sqlite_engine, sqlite_settings).email
    assert "<script" not in email.html and "<img src=x" not in email.html
    text = email.html.replace("<wbr>", "")  # long words get break opportunities (render/wrap.py)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;q&#34;" in text
    assert "🚀✨" in text and "مرحبا بالعالم" in text and "A" * 300 in text
    assert "{{ 7*7 }}" in email.text and "49" not in email.text  # data is never template
    # a marker inside content is defused: only the footer's own links get personalised
    assert compile_body(email.html).fields == {"unsubscribe_url", "preferences_url", "greeting"}
    assert email.html.count(marker("unsubscribe_url")) == 1
    assert email.text.count(marker("unsubscribe_url")) == 1
    assert passed(lint_email(email))


def test_preview_equals_sent_but_for_personal_links(engine: Engine, settings: Settings) -> None:
    import_docs(engine, week_of(NOW, 6), now=NOW)
    with session_scope(engine) as session:
        issues.set_overrides(session, settings, subject=None, note="Hello", now=NOW)
    before = preview(engine, settings)
    with session_scope(engine) as session:
        issue = issues.freeze_issue(
            session, settings, issues.claim_issue(session, settings, now=NOW), now=NOW
        )
    assert (issue.html, issue.text, issue.subject, issue.preheader) == (
        before.email.html,
        before.email.text,
        before.email.subject,
        before.email.preheader,
    )
    assert issue.html is not None and issue.text is not None
    text_values = links.recipient_values(
        settings, 42, email_hash=email_hash("ana@example.com"), now=NOW
    )
    values, text_values = personal_values(text_values, "Ana <b>&")
    sent_html = compile_body(issue.html).fill(values)
    sent_text = compile_body(issue.text).fill(text_values)
    archive = public_copy(settings, before.email)
    assert values["unsubscribe_url"] in sent_html and "/unsubscribe/" in values["unsubscribe_url"]
    assert text_values["preferences_url"] in sent_text
    assert ">Hi Ana &lt;b&gt;&amp;,</p>" in sent_html and "\nHi Ana <b>&,\n" in sent_text
    anonymous = {**links.anonymous_values(settings), "greeting": ""}
    for field in ("unsubscribe_url", "preferences_url", "greeting"):
        sent_html = sent_html.replace(values[field], anonymous[field])
        sent_text = sent_text.replace(text_values[field], anonymous[field])
    assert sent_html == archive.html
    assert sent_text == archive.text
    assert "[[digest:" not in archive.html + archive.text


def test_generated_subject_names_tools_and_verdicts(
    sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    doc = comparison_doc(1, NOW - timedelta(hours=1), verdicts=("ssss", "kkks"))
    doc["tools"][0]["name"], doc["tools"][1]["name"] = "Cursor", "Windsurf"
    import_docs(sqlite_engine, [doc, comparison_doc(2, NOW - timedelta(hours=2))], now=NOW)
    subject = preview(sqlite_engine, sqlite_settings).email.subject
    assert subject == "Cursor ships, Windsurf skips (4\u20130, 1\u20133) + 1 more"


@pytest.mark.parametrize("count", [1, 5, 20])
def test_subject_stays_short(sqlite_engine: Engine, sqlite_settings: Settings, count: int) -> None:
    import_docs(sqlite_engine, week_of(NOW, count), now=NOW)
    result = preview(sqlite_engine, sqlite_settings)
    assert len(result.email.subject) <= 70
    assert "Claude Files" in result.email.subject and "ship" in result.email.subject
    assert len(result.email.preheader) <= 140


def test_render_email_needs_a_subject() -> None:
    with pytest.raises(ValueError, match="subject"):
        render_email("issue", {})


def test_lint_catches_broken_emails() -> None:
    good = RenderedEmail(
        subject="Fine",
        preheader="",
        html=f'<a href="{marker("unsubscribe_url")}">u</a> <a href="https://x.test/">x</a>',
        text=f"Unsubscribe: {marker('unsubscribe_url')}",
    )
    assert passed(lint_email(good))
    cases = {
        "links": RenderedEmail("s", "", good.html + '<a href="/issues/1">rel</a>', good.text),
        "unsubscribe": RenderedEmail("s", "", good.html, "no link here"),
        "placeholders": RenderedEmail("s", "", good.html, good.text, leftovers=("{{ name }}",)),
        "size": RenderedEmail("s", "", good.html + " " * SIZE_BUDGET, good.text),
    }
    for name, email in cases.items():
        failed = [check.name for check in lint_email(email) if not check.ok]
        assert failed == [name], (name, failed)


def test_a_long_week_trades_full_cards_for_list_entries(
    tmp_path: Path, sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    settings = make_test_settings(tmp_path, sqlite_settings.database_url, max_comparisons=20)
    import_docs(sqlite_engine, week_of(NOW, 20), now=NOW)
    result = preview(sqlite_engine, settings)
    featured, more = result.composition.featured, result.composition.more
    assert 5 <= len(featured) < 20 and len(featured) + len(more) == 20
    order = [view.comparison.slug for view in featured + more]
    assert order == [f"tool-a-{i}-vs-tool-b-{i}" for i in range(20)]  # newest first, none lost
    assert len(result.email.html.encode()) < SIZE_BUDGET and passed(result.checks)
    titles = [view.comparison.title for view in featured]
    assert parse(result.email.html).headings == [*titles, "More verdicts this week"]
    with session_scope(sqlite_engine) as session:
        issue = issues.claim_issue(session, settings, now=NOW)
        frozen = issues.freeze_issue(session, settings, issue, now=NOW)
        flags = session.exec(
            select(IssueComparison.featured).where(IssueComparison.issue_id == frozen.id)
        ).all()
    assert sorted(flags) == [False] * len(more) + [True] * len(featured)
    assert frozen.html == result.email.html


def test_preheader_and_title_lead_the_html(
    sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    import_docs(sqlite_engine, week_of(NOW, 2), now=NOW)
    email = preview(sqlite_engine, sqlite_settings).email
    body = email.html.split("<body", 1)[1]
    hidden = re.search(r'<div style="display:none;[^"]*">([^<]*)</div>', body)
    assert hidden is not None and body.index(hidden.group(0)) < body.index("Issue #1")
    assert hidden.group(1).startswith(email.preheader.replace("&", "&amp;"))
    assert hidden.group(1).count("&zwnj;") == 60  # filler: no body text after the preheader
    assert f"<title>{email.subject}</title>" in email.html
    assert '<html lang="en"' in email.html and 'content="light"' in email.html
