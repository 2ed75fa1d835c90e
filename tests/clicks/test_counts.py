"""Unique clicks per issue and per link without identities, over real HTTP on both engines;
the window closes into counts; in aggregate mode no table holds a reader id next to a click."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import clicks
from digest.config import Settings
from digest.db import session_scope
from digest.models import ClickHit, ClickKey, Delivery, ReaderClick, Subscriber, metadata
from tests.support.clicks import (
    API_TOKEN,
    BROWSER,
    SENT_AT,
    Moment,
    figures,
    hit,
    local,
    send_week,
)
from tests.support.ledger import add_readers
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings

LATER = SENT_AT + timedelta(hours=2)


@pytest.fixture
def api_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_test_settings(tmp_path, database_url, api_token=API_TOKEN)


def test_unique_clicks_per_link_and_per_issue(engine: Engine, api_settings: Settings) -> None:
    settings = api_settings
    _, copies = send_week(engine, settings, readers=3)
    clock = Moment(LATER)
    with live_server(settings, clock=clock) as base, httpx.Client() as client:
        first, second, _ = (
            [local(u, settings, base) for u in c.tracked(settings.base_url)] for c in copies
        )
        # reader 1: link 1 twice (an hour apart), link 3 once; reader 2: link 1 once
        hit(client, first[1], clock=clock, at=LATER, agent=BROWSER + " r1")
        hit(client, first[1], clock=clock, at=LATER + timedelta(hours=1), agent=BROWSER + " r1")
        hit(client, first[3], clock=clock, at=LATER + timedelta(minutes=5), agent=BROWSER + " r1")
        hit(client, second[2], clock=clock, at=LATER, agent=BROWSER + " r2")
        data = figures(client, base)
    assert data["delivered"] == 3
    assert data["human_clickers"] == 2
    assert data["click_rate"] == pytest.approx(2 / 3)
    assert data["raw_hits"] == data["human_hits"] == 4 and data["bot_share"] == 0
    top = data["links"][0]
    assert top["url"].endswith("tool-a-0-vs-tool-b-0")
    assert (top["raw_hits"], top["raw_unique"], top["human_hits"], top["human_unique"]) == (
        3,
        2,
        3,
        2,
    )
    assert data["tools"][0]["human_unique"] == 2


def test_the_window_closes_into_counts_and_forgets_the_key(
    engine: Engine, api_settings: Settings
) -> None:
    settings = api_settings
    issue_id, copies = send_week(engine, settings, readers=2)
    clock = Moment(LATER)
    with live_server(settings, clock=clock) as base, httpx.Client() as client:
        link = local(copies[0].tracked(settings.base_url)[1], settings, base)
        hit(client, link, clock=clock, at=LATER)
        before = figures(client, base)
        clock.at = SENT_AT + timedelta(days=settings.click_window_days, minutes=1)
        after = figures(client, base)  # the API closes due windows before reading
        # a click after the window still redirects, and nothing is recorded
        late = hit(client, link, clock=clock, at=clock.at)
    assert late.status_code == 302
    assert after["window_closed"] and not before["window_closed"]
    for key in ("human_clickers", "raw_hits", "human_hits", "delivered"):
        assert after[key] == before[key]
    assert after["links"] == before["links"]
    with session_scope(engine) as session:
        assert session.exec(select(ClickHit)).all() == []
        assert session.get(ClickKey, issue_id) is None


def test_aggregate_mode_keeps_no_reader_id_next_to_a_click(
    engine: Engine, api_settings: Settings
) -> None:
    settings = api_settings
    _, copies = send_week(engine, settings, readers=3)
    clock = Moment(LATER)
    with live_server(settings, clock=clock) as base, httpx.Client() as client:
        for copy in copies:
            hit(
                client,
                local(copy.tracked(settings.base_url)[1], settings, base),
                clock=clock,
                at=LATER,
            )
    # schema: no click table has a column that could name a reader, a delivery or a client
    identifying = ("subscriber", "delivery_id", "email", "ip", "agent", "reader")
    click_tables = [t for t in metadata.sorted_tables if t.name.startswith(("click_", "provider_"))]
    assert {t.name for t in click_tables} >= {"click_hit", "click_count", "click_key", "click_link"}
    for table in click_tables:
        for column in table.columns:
            assert not any(word in column.name for word in identifying), (table.name, column.name)
        for key in table.foreign_keys:
            assert key.column.table.name not in ("subscriber", "delivery"), table.name
    assert "click_hit" in inspect(engine).get_table_names()
    # rows: no stored value is a reader's id, address, delivery id or the client's address
    with session_scope(engine) as session:
        ids = {str(i) for i in session.exec(select(Subscriber.id)).all()}
        ids |= {str(i) for i in session.exec(select(Delivery.id)).all()}
        addresses = set(session.exec(select(Subscriber.email)).all())
        hits = session.exec(select(ClickHit)).all()
        assert len(hits) == 3
        for row in hits:
            values = {str(row.delivery_hash), row.client_hash, row.signals}
            assert not values & (ids | addresses | {"127.0.0.1"})
        assert session.exec(select(ReaderClick)).all() == []


def test_consented_readers_clicks_are_kept_and_withdrawal_deletes_them(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_test_settings(
        tmp_path, database_url, api_token=API_TOKEN, track_clicks="consented"
    )
    import_first = SENT_AT - timedelta(days=1)
    with session_scope(engine) as session:
        readers = add_readers(session, 2)
        ids = [r.id for r in readers]
        assert ids[0] is not None
        clicks.set_click_consent(session, ids[0], consent=True, now=import_first)
    issue_id, copies = send_week(engine, settings, readers=0)
    by_reader = {c.to: c for c in copies}
    clock = Moment(LATER)
    with live_server(settings, clock=clock) as base, httpx.Client() as client:
        for address in ("reader0@example.com", "reader1@example.com"):
            link = by_reader[address].tracked(settings.base_url)[1]
            hit(client, local(link, settings, base), clock=clock, at=LATER, agent=BROWSER + address)
        figures(client, base)  # reading the figures writes the hits of the last moment
        with session_scope(engine) as session:
            kept = session.exec(select(ReaderClick)).all()
            assert [(c.subscriber_id, c.issue_id) for c in kept] == [(ids[0], issue_id)]
        # withdrawn on the preferences page (the box is shown ticked), effective at once
        prefs = next(h for h in by_reader["reader0@example.com"].hrefs() if "/preferences/" in h)
        page = client.get(local(prefs, settings, base))
        assert 'name="click_consent" value="on" checked' in page.text
        answer = client.post(local(prefs, settings, base), data={"action": "clicks"})
        assert "no longer record your clicks" in answer.text
    with session_scope(engine) as session:
        assert session.exec(select(ReaderClick)).all() == []


def test_the_figures_need_the_api_token(engine: Engine, api_settings: Settings) -> None:
    send_week(engine, api_settings, readers=1)
    with live_server(api_settings) as base, httpx.Client() as client:
        url = f"{base}/api/issues/1/clicks"
        assert client.get(url).status_code == 401
        wrong = client.get(url, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        good = {"authorization": f"Bearer {API_TOKEN}"}
        assert client.get(f"{base}/api/issues/7/clicks", headers=good).status_code == 404
        assert client.get(f"{base}/api/issues/x1/clicks", headers=good).status_code == 404
        assert client.get(url, headers=good).json()["delivered"] == 1
