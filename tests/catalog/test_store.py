"""Import, upsert and query comparisons on both engines, with the seed pages as data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import catalog
from digest.db import session_scope
from digest.models import Comparison, ComparisonTool, Persona, Review, Tool, Verdict
from tests.support.samples import NOW, SAMPLES, load, sample_documents


def test_samples_import_with_shared_tool(engine: Engine) -> None:
    report = load(engine, sample_documents())
    assert report.comparisons_created == 2
    assert report.tools_created == 3  # Claude Files API appears in both but is one tool
    with session_scope(engine) as session:
        claude = session.exec(select(Tool).where(Tool.slug == "claude-files-api")).one()
        links = session.exec(
            select(ComparisonTool).where(ComparisonTool.tool_id == claude.id)
        ).all()
        assert len(links) == 2
        reviews = session.exec(select(Review).where(Review.tool_id == claude.id)).all()
        scores = {review.persona: review.score for review in reviews}
        # seed 1 shows no scores; seed 2 does; leaving a field out keeps what is known
        assert scores == {"builder": 82, "skeptic": 74, "founder": 78, "futurist": 80}
        assert claude.pricing_entry == "Paid"
        assert claude.pricing_text is not None and claude.pricing_text.startswith("Usage-based")


def test_panel_is_derived_from_reviews(engine: Engine) -> None:
    load(engine, sample_documents())
    with session_scope(engine) as session:
        views = {v.comparison.slug: v for v in catalog.list_comparisons(session)}
    hub = views["claude-files-api-vs-hugging-face-inference-providers-hub"]
    claude, hugging = hub.tools
    assert claude.tool.name == "Claude Files API"  # page order is kept
    assert hugging.panel.tally == "4 ship / 0 skip"
    assert hugging.panel.percent_ship == 100
    assert hugging.panel.verdict is Verdict.SHIP
    assert hugging.panel.average_score == 78.5
    assert [r.persona for r in hugging.reviews] == list(Persona)
    modal = views["claude-files-api-vs-modal-gpu-serverless-inference"].tools[1]
    assert modal.panel.average_score is None  # the page shows no scores: none are invented
    assert modal.panel.tally == "4 ship / 0 skip"
    assert modal.tool.best_for is None


def test_reimport_of_edited_file_updates_not_duplicates(engine: Engine) -> None:
    load(engine, sample_documents())
    path = SAMPLES[0]
    data = json.loads(path.read_text())
    data["title"] = "Edited title"
    data["tools"][1]["reviews"]["skeptic"] = {"score": 12, "verdict": "skip", "text": "Changed."}
    report = load(engine, [(path.name, json.dumps(data).encode())])
    assert (report.comparisons_created, report.comparisons_updated) == (0, 1)
    with session_scope(engine) as session:
        assert len(session.exec(select(Comparison)).all()) == 2
        assert len(session.exec(select(Tool)).all()) == 3
        assert len(session.exec(select(Review)).all()) == 12
        edited = session.exec(select(Comparison).where(Comparison.slug == data["slug"])).one()
        assert edited.title == "Edited title"
        view = catalog.load_views(session, [edited])[0]
        assert view.tools[1].panel.tally == "3 ship / 1 skip"


def test_published_time_defaults_to_first_import_and_window_query(engine: Engine) -> None:
    load(engine, sample_documents(), now=NOW)
    load(engine, sample_documents(), now=NOW + timedelta(days=3))  # re-import keeps first time
    data = json.loads(SAMPLES[0].read_text())
    data["slug"] = "later-comparison"
    data["published_at"] = "2026-11-18T10:00:00+01:00"
    load(engine, [("later.json", json.dumps(data).encode())])
    with session_scope(engine) as session:
        everything = catalog.list_comparisons(session)
        window = catalog.list_comparisons(session, since=NOW, until=NOW + timedelta(days=7))
        upto = catalog.list_comparisons(session, since=NOW - timedelta(days=1), until=NOW)
    assert everything[0].comparison.slug == "later-comparison"  # newest first
    assert everything[0].comparison.published_at == datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
    assert [v.comparison.slug for v in window] == ["later-comparison"]
    assert len(upto) == 2 and all(v.comparison.published_at == NOW for v in upto)


def test_link_falls_back_to_site_url(engine: Engine) -> None:
    data = json.loads(SAMPLES[0].read_text())
    data["slug"] = "with-url"
    data["url"] = "https://site.example/c/with-url"
    load(engine, [*sample_documents(), ("url.json", json.dumps(data).encode())])
    with session_scope(engine) as session:
        views = {v.comparison.slug: v for v in catalog.list_comparisons(session)}
    assert views["with-url"].link("https://x.test") == "https://site.example/c/with-url"
    modal = views["claude-files-api-vs-modal-gpu-serverless-inference"]
    assert modal.link("https://x.test") == (
        "https://x.test/compare/claude-files-api-vs-modal-gpu-serverless-inference"
    )
