"""Topics on the subscribe form and the preferences page, and the welcome after POST /confirm,
over real HTTP: bad choices are refused by name with nothing lost, and nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.readers import subscriptions, topics
from digest.tokens import Purpose, make_token
from tests.support.issue_data import comparison_doc, import_docs
from tests.support.live_server import live_server
from tests.support.mailbox import wait_for_mail
from tests.support.readers import form_stamp, wait_for_requests
from tests.support.settings import SECRET, make_test_settings

NOW = datetime.now(UTC)


@pytest.fixture
def web_settings(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    docs = [
        comparison_doc(1, NOW - timedelta(hours=1), categories=("Design", "Video")),
        comparison_doc(2, NOW - timedelta(hours=2), categories=('<b>Bold</b> & "Co"', "Data")),
    ]
    import_docs(engine, docs, now=NOW)
    return make_test_settings(
        tmp_path, settings.database_url, subscribe_min_seconds=0, welcome_skip_hours=0
    )


@pytest.fixture
def base_url(web_settings: Settings) -> Iterator[str]:
    with live_server(web_settings) as url:
        yield url


Form = dict[str, str | list[str]]


def form(email: str, *chosen: str, **fields: str) -> Form:
    values: Form = {"email": email, "name": "", "website": "", "form_stamp": form_stamp(), **fields}
    return {**values, "topics": list(chosen)}


def choice(engine: Engine, email: str) -> list[str] | str | None:
    with session_scope(engine, read_only=True) as session:
        reader = subscriptions.find_by_email(session, email)
        if reader is None or reader.id is None:
            return None
        return topics.export_topics(session, reader.id)


def reader_id(engine: Engine, email: str) -> tuple[int, str]:
    with session_scope(engine, read_only=True) as session:
        reader = subscriptions.find_by_email(session, email)
        assert reader is not None and reader.id is not None
        return reader.id, reader.email_hash


def test_the_form_offers_topics_escaped_and_subscribes_with_them(
    base_url: str, engine: Engine
) -> None:
    page = httpx.get(f"{base_url}/").text
    assert 'name="topics" value="design"' in page and 'value="video"' in page
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; &#34;Co&#34;" in page and "<b>Bold" not in page
    assert "every Monday, 08:00 UTC" in page
    answer = httpx.post(f"{base_url}/subscribe", data=form("ann@example.com", "design", "video"))
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    wait_for_requests(engine)  # the topics travel with the stored request, acted on after
    with session_scope(engine, read_only=True) as session:
        reader = subscriptions.find_by_email(session, "ann@example.com")
        assert reader is not None and reader.pending_topics is not None
    json_answer = httpx.post(
        f"{base_url}/subscribe",
        json={"email": "bob@example.com", "topics": ["data"], "form_stamp": form_stamp()},
    )
    assert json_answer.status_code == 202
    wait_for_requests(engine)
    with session_scope(engine, read_only=True) as session:
        bob = subscriptions.find_by_email(session, "bob@example.com")
        assert bob is not None and bob.pending_topics is not None and bob.pending_topics != "all"


def test_unknown_topics_are_named_and_nothing_is_lost(base_url: str, engine: Engine) -> None:
    answer = httpx.post(
        f"{base_url}/subscribe",
        data=form("ann@example.com", "design", "<script>x</script>", name="Ann"),
    )
    assert answer.status_code == 400
    assert "we have no topic" in answer.text and "&lt;script&gt;x&lt;/script&gt;" in answer.text
    assert 'value="ann@example.com"' in answer.text and 'value="Ann"' in answer.text
    assert (
        'value="design" checked' in answer.text and '<details class="topics" open>' in answer.text
    )
    assert choice(engine, "ann@example.com") is None  # nothing stored
    bad_json = httpx.post(f"{base_url}/subscribe", json={"email": "b@example.com", "topics": "x"})
    assert bad_json.status_code == 422 and "'x'" in bad_json.json()["error"]
    not_list = httpx.post(f"{base_url}/subscribe", json={"email": "b@example.com", "topics": [1]})
    assert not_list.status_code == 400 and "list of strings" in not_list.json()["error"]


def test_confirming_twice_sends_one_welcome(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    httpx.post(f"{base_url}/subscribe", data=form("ann@example.com", "design", name="Ann"))
    [confirmation] = wait_for_mail(web_settings.outbox_dir, to="ann@example.com")
    link = confirmation.link("confirm").replace(web_settings.base_url, base_url)
    first, second = httpx.post(link), httpx.post(link)
    assert "a welcome with the latest one is on its way" in first.text
    assert second.status_code == 200 and "on its way" not in second.text
    mails = wait_for_mail(web_settings.outbox_dir, 2, to="ann@example.com")
    assert [m.subject for m in mails].count("Welcome to Weekly AI Tool Verdicts") == 1
    assert choice(engine, "ann@example.com") == ["Design"]


def test_preferences_change_topics_and_refuse_an_empty_choice(
    base_url: str, engine: Engine
) -> None:
    httpx.post(f"{base_url}/subscribe", data=form("ann@example.com", "design"))
    wait_for_requests(engine)
    subscriber, fingerprint = reader_id(engine, "ann@example.com")
    token = make_token(SECRET, Purpose.PREFERENCES, subscriber, email_hash=fingerprint, now=NOW)
    url = f"{base_url}/preferences/{token}"
    page = httpx.get(url).text
    assert 'name="every" value="all" checked' in page  # pending: the request waits for confirm
    some: Form = {"action": "topics", "every": "some", "topics": ["video", "data"]}
    saved = httpx.post(url, data=some)
    assert saved.status_code == 200 and "Topics saved." in saved.text
    assert choice(engine, "ann@example.com") == ["Data", "Video"]
    empty = httpx.post(url, data={"action": "topics", "every": "some"})
    assert (
        empty.status_code == 400 and "Tick at least one topic, or choose every topic." in empty.text
    )
    unknown = httpx.post(url, data={**some, "topics": ["video", "data", "gone"]})
    assert unknown.status_code == 400 and "&#39;gone&#39;" in unknown.text
    assert 'value="video" checked' in unknown.text  # what they ticked is still ticked
    assert choice(engine, "ann@example.com") == ["Data", "Video"]  # nothing changed
    every = httpx.post(url, data={"action": "topics", "every": "all", "topics": ["gone"]})
    assert every.status_code == 200 and choice(engine, "ann@example.com") == "all"
