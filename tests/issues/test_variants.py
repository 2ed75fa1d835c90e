"""Topic variants as composed: the issue's rules (order, full cards then the list, the size
budget) on the week's comparisons in the chosen topics; topic names are data, never markup."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from digest import catalog, issues
from digest.config import Settings
from digest.db import session_scope
from digest.render import SIZE_BUDGET, lint_email, passed
from digest.render.engine import marker
from digest.render.personal import compile_body
from tests.support.issue_data import comparison_doc, import_docs, week_of
from tests.support.settings import make_test_settings

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HOSTILE = '<img src=x onerror=alert(1)> & "q" [[digest:unsubscribe_url]] {{ 7*7 }}'


def ids(engine: Engine, *slugs: str) -> frozenset[int]:
    with session_scope(engine, read_only=True) as session:
        return frozenset(t.id for t in catalog.resolve_slugs(session, list(slugs)) if t.id)


def test_a_hostile_topic_name_is_text_in_both_parts(engine: Engine, settings: Settings) -> None:
    import_docs(engine, [comparison_doc(1, NOW, categories=(HOSTILE, "Video"))], now=NOW)
    with session_scope(engine, read_only=True) as session:
        [topic] = [t for t in catalog.list_topics(session) if t.name != "Video"]
        email = issues.preview_next_issue(
            session, settings, now=NOW, topics=frozenset({topic.id or 0})
        ).email
    html = email.html.replace("<wbr>", "")  # long words get break opportunities (render/wrap.py)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    defused = HOSTILE.replace("[[digest:", "[[\u200bdigest:")  # look-alike markers never fill
    assert f"Picked for your topics: {defused}." in " ".join(email.text.split())
    assert compile_body(email.html).fields == {"unsubscribe_url", "preferences_url", "greeting"}
    assert email.html.count(marker("unsubscribe_url")) == 1  # the footer's; the name's defused
    assert passed(lint_email(email)), lint_email(email)


def test_a_long_week_in_one_topic_keeps_order_and_budget(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    wide = make_test_settings(tmp_path, settings.database_url, max_comparisons=20)
    docs = week_of(NOW, 20)
    for index, doc in enumerate(docs):
        if index % 2:
            for tool in doc["tools"]:
                tool["category"] = "Video"
    import_docs(engine, docs, now=NOW)
    with session_scope(engine, read_only=True) as session:
        video = issues.preview_next_issue(session, wide, now=NOW, topics=ids(engine, "video"))
        quiet = ids(engine, "video") | {999}  # a topic with nothing adds nothing
        same = issues.preview_next_issue(session, wide, now=NOW, topics=quiet)
    order = [view.comparison.slug for view in video.composition.all]
    assert order == [f"tool-a-{i}-vs-tool-b-{i}" for i in range(1, 20, 2)]  # newest first
    assert 0 < len(video.composition.featured) < 10 and video.composition.more  # fitted
    assert len(video.email.html.encode()) <= SIZE_BUDGET and passed(video.checks)
    assert same.email == video.email
