"""Tracked links in a sent issue, over real HTTP: comparisons go through /r/{token}, the
target comes only from the signed token, personal links are never rewritten, `off` rewrites
nothing, and the sent copy stays under the size budget."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from digest.clicks import tags
from digest.config import Settings
from digest.render import SIZE_BUDGET
from tests.support.clicks import SENT_AT, local, send_week
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings


def test_comparison_links_go_through_the_redirect(engine: Engine, settings: Settings) -> None:
    _, copies = send_week(engine, settings, readers=2)
    copy = copies[0]
    tracked = copy.tracked(settings.base_url)
    # canary first, then title and button of each full card (3 comparisons)
    assert len(tracked) == 1 + 3 * 2
    hrefs = copy.hrefs()
    assert not any(h.startswith("https://site.test/compare/") for h in hrefs)
    assert any(h.startswith(f"{settings.base_url}/unsubscribe/") for h in hrefs)
    assert any(h.startswith(f"{settings.base_url}/preferences/") for h in hrefs)
    assert f"{settings.base_url}/issues/1" in hrefs  # view in browser, untouched
    assert f"{settings.base_url}/r/" in copy.text
    assert "/unsubscribe/" in copy.text and "[[digest:" not in copy.text + copy.html
    canary = copy.html.index(tracked[0].replace("&", "&amp;"))
    assert 'style="display:none' in copy.html[canary : canary + 400]
    assert "counted in aggregate" in copy.text and "counted in aggregate" in copy.html
    with live_server(settings) as base, httpx.Client() as client:
        answer = client.get(local(tracked[1], settings, base))
        front = client.get(f"{base}/")
    assert "never recorded" in front.text
    assert answer.status_code == 302
    assert answer.headers["location"] == "https://site.test/compare/tool-a-0-vs-tool-b-0"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_each_reader_gets_their_own_tag_but_the_same_token(
    engine: Engine, settings: Settings
) -> None:
    _, copies = send_week(engine, settings, readers=2)
    first, second = (c.tracked(settings.base_url)[1] for c in copies)
    assert first.split("?")[0] == second.split("?")[0]
    assert first.split("?t=")[1] != second.split("?t=")[1]


def test_forged_altered_and_expired_tokens_get_404_and_no_redirect(
    engine: Engine, settings: Settings
) -> None:
    _, copies = send_week(engine, settings, readers=1)
    good = copies[0].tracked(settings.base_url)[1]
    token = good.split("/r/")[1].split("?")[0]
    expired = tags.sign_link(
        settings.secret, issue_id=1, link_id=1, url="https://site.test/x", expires=date(2020, 1, 1)
    )
    other_key = tags.sign_link(
        "another-secret-key-that-is-long-enough-00000",
        issue_id=1,
        link_id=1,
        url="https://evil.test/",
        expires=date(2999, 1, 1),
    )
    bad = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # may differ only in spare bits
        token[:10],
        "x" * 3000,
        expired,
        other_key,
    ]
    with live_server(settings) as base, httpx.Client() as client:
        for candidate in bad:
            answer = client.get(f"{base}/r/{candidate}", params={"url": "https://evil.test/"})
            assert answer.status_code == 404, candidate
            assert "location" not in answer.headers
            assert "evil.test" not in answer.text
        # the query never chooses the target
        answer = client.get(local(good, settings, base) + "&url=https://evil.test/")
        assert answer.headers["location"].startswith("https://site.test/")


def test_off_leaves_every_link_as_it_is(engine: Engine, tmp_path: Path, database_url: str) -> None:
    settings = make_test_settings(tmp_path, database_url, track_clicks="off")
    _, copies = send_week(engine, settings, readers=1)
    assert copies[0].tracked(settings.base_url) == []
    assert "https://site.test/compare/tool-a-0-vs-tool-b-0" in copies[0].hrefs()


def test_a_full_week_stays_under_the_size_budget_with_tracking(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_test_settings(
        tmp_path, database_url, track_clicks="consented", track_opens="on", max_comparisons=12
    )
    _, copies = send_week(engine, settings, readers=1, comparisons=12)
    assert len(copies[0].html.encode()) <= SIZE_BUDGET
    assert len(copies[0].tracked(settings.base_url)) >= 12


def test_tokens_expire_only_after_the_link_days() -> None:
    token = tags.sign_link(
        "k" * 40, issue_id=1, link_id=2, url="https://a.test/", expires=date(2027, 1, 1)
    )
    assert tags.read_link("k" * 40, token, now=SENT_AT).url == "https://a.test/"
    assert tags.read_link("k" * 40, token, now=SENT_AT + timedelta(days=46)).link_id == 2
