"""What the public pages show of the store, read at most once a second per process.

The front page, a sent issue's page and the feed show the published issues, the catalog's
version (which their cards follow) and the topics. Reading those on every request cost several
queries per page, more than rendering it (issue 14). Each app keeps the last reading for
FRESH_FOR seconds: a newly published issue, an import or a renamed topic shows up on these
pages at most that much later (the feed already lets caches keep it for minutes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi import Request

from digest import catalog, issues
from digest.db import session_scope
from digest.models import Issue, Topic
from digest.web.deps import get_engine

FRESH_FOR = 1.0  # seconds


@dataclass(frozen=True)
class Published:
    issues: tuple[Issue, ...]  # published (sending, paused or sent), newest first
    version: catalog.CatalogVersion
    topics: tuple[Topic, ...]
    read_at: float = field(default_factory=time.monotonic)

    def issue(self, number: int) -> Issue | None:
        return next((issue for issue in self.issues if issue.number == number), None)

    @property
    def latest(self) -> Issue | None:
        return self.issues[0] if self.issues else None


def published(request: Request) -> Published:
    """The app's reading of the store, read again once it is FRESH_FOR seconds old. (Two
    threads may both read at the turn of a second; either reading is right.)"""
    state = request.app.state
    kept: Published | None = getattr(state, "published", None)
    if kept is not None and time.monotonic() - kept.read_at < FRESH_FOR:
        return kept
    with session_scope(get_engine(request), read_only=True) as session:
        fresh = Published(
            issues=tuple(issues.list_published(session)),
            version=catalog.catalog_version(session),
            topics=tuple(catalog.list_topics(session)),
        )
    state.published = fresh
    return fresh
