"""Lighthouse (the real tool, from npm) against Debian's Chromium, headless and offline: the front
page and an issue's page score at least 95 in SEO, accessibility and best practices.

The scores are written to test-artifacts/lighthouse/scores.json (with every audit that lost
points, for the one who has to fix it). `make test` installs Lighthouse; under CI=true a missing
Lighthouse or Chromium fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import issues
from digest.db import make_engine, session_scope
from digest.models import metadata
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS
from tests.support.issue_data import hostile_doc, import_docs, topical_week
from tests.support.live_server import free_port, live_server
from tests.support.settings import make_test_settings

pytestmark = pytest.mark.browser

LIGHTHOUSE = Path(__file__).parent / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "lighthouse"
CATEGORIES = ("seo", "accessibility", "best-practices")
MINIMUM = 0.95


@pytest.fixture(scope="module")
def lighthouse() -> Path:
    missing = [str(p) for p in (LIGHTHOUSE, CHROMIUM) if not p.exists()]
    if missing:
        message = f"Lighthouse needs {', '.join(missing)} (make test installs both)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: Lighthouse must run)")
        pytest.skip(message)
    return LIGHTHOUSE


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The app on 127.0.0.1 (its own address as DIGEST_BASE_URL: canonical links point home)
    with one sent issue."""
    port = free_port()
    url = f"sqlite:///{tmp_path / 'subscribers.db'}"
    settings = make_test_settings(tmp_path, url, base_url=f"http://127.0.0.1:{port}")
    engine = make_engine(url)
    metadata.create_all(engine)
    now = datetime.now(UTC)
    import_docs(engine, [*topical_week(now, 6), hostile_doc(now - timedelta(minutes=9))], now=now)
    with session_scope(engine) as session:
        draft = issues.claim_issue(session, settings, now=now)
        issues.freeze_issue(session, settings, draft, now=now)
    with live_server(settings, port) as base:
        yield base
    engine.dispose()


def audit(lighthouse: Path, url: str, out: Path) -> dict[str, Any]:
    flags = " ".join(["--headless=new", *LAUNCH_ARGS])
    env = {**os.environ, "CHROME_PATH": str(CHROMIUM)}
    result = subprocess.run(
        [
            str(lighthouse),
            url,
            "--output=json",
            f"--output-path={out}",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={flags}",
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """Each category's score, and the audits that cost it points."""
    found: dict[str, Any] = {}
    for name in CATEGORIES:
        category = report["categories"][name]
        lost = [
            ref["id"]
            for ref in category["auditRefs"]
            if ref["weight"] and (report["audits"][ref["id"]].get("score") or 0) < 1
        ]
        found[name] = {"score": category["score"], "lost": lost}
    return found


def test_front_page_and_issue_page_score_at_least_95(lighthouse: Path, site: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    scores = {}
    for name, path in (("front page", "/"), ("issue page", "/issues/1")):
        report = audit(lighthouse, site + path, ARTIFACTS / f"{name.replace(' ', '-')}.json")
        scores[name] = summary(report)
    record = {"lighthouse": report["lighthouseVersion"], "at": datetime.now(UTC).isoformat()}
    (ARTIFACTS / "scores.json").write_text(json.dumps({**record, "pages": scores}, indent=1))
    low = {
        (page, category): result
        for page, categories in scores.items()
        for category, result in categories.items()
        if result["score"] < MINIMUM
    }
    assert not low, json.dumps(scores, indent=1)
