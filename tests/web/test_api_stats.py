"""GET /api/stats over real HTTP, on both engines: the desk's figures, behind the API token."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from digest.config import Settings
from tests.support.desk_data import History
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings

TOKEN = "stats-token-for-tests"


def test_stats_answer_with_the_token_only(
    tmp_path: Path, settings: Settings, engine: Engine, history: History
) -> None:
    api_settings = make_test_settings(tmp_path, settings.database_url, api_token=TOKEN)
    with live_server(api_settings) as base:
        missing = httpx.get(f"{base}/api/stats")
        wrong = httpx.get(f"{base}/api/stats", headers={"Authorization": "Bearer nope"})
        good = httpx.get(f"{base}/api/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert good.status_code == 200
    body = good.json()
    assert set(body) == {"generated_at", "timezone", "complaint_limits", "issues", "growth", "list"}
    assert [i["number"] for i in body["issues"]] == [2, 1]
    first = body["issues"][1]
    assert (first["sent"], first["bounced"], first["complained"]) == (8, 1, 1)
    assert first["complaint_rate"] == 0.125 and first["unsubscribed_after"] == 1
    assert len(body["growth"]) == 12 and body["list"]["confirmed"] == 8
    assert body["complaint_limits"] == [0.001, 0.003]


def test_stats_are_off_without_a_token(settings: Settings, engine: Engine) -> None:
    with live_server(settings) as base:
        answer = httpx.get(f"{base}/api/stats", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 401 and "DIGEST_API_TOKEN" in answer.json()["error"]
