"""The two sample comparisons (data/sample/, from the seed pages) and a one-call import."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from digest import catalog
from digest.db import session_scope

SAMPLES = sorted((Path(__file__).parents[2] / "data" / "sample").glob("*.json"))
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def load(
    engine: Engine, documents: list[tuple[str, bytes]], *, now: datetime = NOW
) -> catalog.ImportReport:
    parsed = [(source, catalog.parse_document(source, raw)) for source, raw in documents]
    with session_scope(engine) as session:
        return catalog.import_comparisons(session, parsed, now=now)


def sample_documents() -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in SAMPLES]
