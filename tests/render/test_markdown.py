"""The editor's note as Markdown: the safe subset renders; raw HTML and unsafe links are refused
on save and harmless if stored anyway; blank lines survive in both parts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from digest import issues
from digest.config import Settings
from digest.db import session_scope
from digest.errors import InvalidInput
from digest.render import check_markdown, markdown_html, markdown_text

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_the_subset_renders_in_both_parts() -> None:
    note = "A *big* week, **two** launches.\n\n\nRead [the method](https://site.test/m?a=1&b=2).\nThanks"
    html = markdown_html(note)
    assert html.count("<p ") == 2  # blank lines separate paragraphs, however many
    assert "<em>big</em>" in html and "<strong>two</strong>" in html
    assert 'href="https://site.test/m?a=1&amp;b=2"' in html and "<br>\nThanks" in html
    assert markdown_text(note) == (
        "A *big* week, **two** launches.\n\nRead the method (https://site.test/m?a=1&b=2).\nThanks"
    )
    assert markdown_text(note, marks=False).startswith("A big week, two launches.")
    assert check_markdown(note) == []


@pytest.mark.parametrize(
    ("note", "problem"),
    [
        ("Hi <script>alert(1)</script>", "raw HTML is not allowed ('<script>')"),
        ("<div>block</div>", "raw HTML is not allowed"),
        ("[x](javascript:alert(1))", "links must start with https://, http:// or mailto:"),
        ("[x](JaVaScRiPt:alert(1))", "links must start with"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", "links must start with"),
        ("[x](/relative)", "links must start with"),
    ],
)
def test_unsafe_notes_are_refused_and_rendered_harmless(note: str, problem: str) -> None:
    assert any(problem in found for found in check_markdown(note)), check_markdown(note)
    html = markdown_html(note)
    assert "<script" not in html and "<div" not in html
    assert "<a " not in html  # an unsafe link stays text: nothing to click


def test_saving_an_unsafe_note_changes_nothing(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        issues.set_overrides(session, settings, subject=None, note="Kept *note*", now=NOW)
    with pytest.raises(InvalidInput, match="links must start"), session_scope(engine) as session:
        issues.set_overrides(
            session, settings, subject=None, note="[click](javascript:alert(1))", now=NOW
        )
    with session_scope(engine, read_only=True) as session:
        draft = issues.find_draft(session)
    assert draft is not None and draft.editor_note == "Kept *note*"
