"""`digest demo`: the main job on the embedded default, end to end, with no configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from digest import catalog, migrate
from digest.comparison_format import ComparisonIn, parse_document
from digest.config import Settings
from digest.db import session_scope
from digest.render_preview import write_preview
from digest.sample_send import SampleSend, send_sample_issue

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
FIRST_ISSUE_LOOKBACK = timedelta(days=7)
PREVIEW_PATH = Path("preview") / "next-issue.html"


@dataclass
class DemoResult:
    imported: catalog.ImportReport
    next_issue: list[catalog.ComparisonView]
    preview_path: Path | None = None  # the next issue's HTML, as readers will see it
    sent: SampleSend | None = None  # the week's issue sent to the sample readers


def sample_documents(directory: Path = SAMPLE_DIR) -> list[tuple[str, list[ComparisonIn]]]:
    files = sorted(directory.glob("*.json"))
    return [(str(path), parse_document(str(path), path.read_bytes())) for path in files]


def run_demo(settings: Settings, engine: Engine, *, now: datetime) -> DemoResult:
    """Create the store, load the sample comparisons, and show what the next issue holds."""
    migrate.upgrade(settings.database_url)
    with session_scope(engine) as session:
        report = catalog.import_comparisons(session, sample_documents(), now=now)
    with session_scope(engine, read_only=True) as session:
        upcoming = catalog.list_comparisons(session, since=now - FIRST_ISSUE_LOOKBACK, until=now)
        written = write_preview(session, settings, now=now, target=PREVIEW_PATH)
    preview_path = PREVIEW_PATH.resolve() if written else None
    sent = send_sample_issue(settings, engine, now=now)
    return DemoResult(imported=report, next_issue=upcoming, preview_path=preview_path, sent=sent)
