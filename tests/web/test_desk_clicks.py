"""The Clicks section of the desk's issue page over real HTTP, on both engines: the figures
are those of clicks.issue_click_figures, hostile link text is escaped, the per-link table
downloads as CSV, tracking off is said plainly, and a breaker pause is named."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest import clicks
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import breaker
from digest.models import ClickLink, Issue, IssueStatus, LinkKind
from digest.web.charts import percent
from tests.support.clicks import BROWSER, SENT_AT, Copy, Moment, hit, local, send_week
from tests.support.desk_data import HOSTILE_NAME
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings
from tests.web.test_editor import PASSWORD, login

LATER = SENT_AT + timedelta(hours=2)
SCANNER = "python-requests/2.32"


def _settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    return make_test_settings(tmp_path, database_url, editor_password=PASSWORD, **overrides)


def _click(settings: Settings, base: str, copies: list[Copy], clock: Moment) -> None:
    """Two people click (one of them twice), a scanner follows a link: a bot share above 0."""
    with httpx.Client() as reader:
        first, second = (
            [local(u, settings, base) for u in c.tracked(settings.base_url)] for c in copies[:2]
        )
        hit(reader, first[1], clock=clock, at=LATER, agent=BROWSER + " r1")
        hit(reader, first[2], clock=clock, at=LATER + timedelta(minutes=5), agent=BROWSER + " r1")
        hit(reader, second[1], clock=clock, at=LATER, agent=BROWSER + " r2")
        hit(reader, second[2], clock=clock, at=LATER + timedelta(minutes=9), agent=SCANNER)


def _make_hostile(engine: Engine, issue_id: int) -> None:
    """A link's title and target come from the catalog: make one as nasty as can be."""
    with session_scope(engine) as session:
        link = session.exec(
            select(ClickLink).where(
                col(ClickLink.issue_id) == issue_id, col(ClickLink.kind) == LinkKind.COMPARISON
            )
        ).first()
        assert link is not None
        link.label = HOSTILE_NAME
        link.url = "javascript:alert(3)"


def _close_windows(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        ended = SENT_AT + timedelta(days=settings.click_window_days, minutes=1)
        clicks.close_due_windows(session, now=ended)


def test_the_issue_page_shows_the_click_figures(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = _settings(tmp_path, database_url, track_opens="on")
    issue_id, copies = send_week(engine, settings, readers=3)
    _make_hostile(engine, issue_id)
    clock = Moment(LATER)
    with live_server(settings, clock=clock) as base, httpx.Client(base_url=base) as client:
        _click(settings, base, copies, clock)
        assert login(client).status_code == 303
        page = client.get("/editor/issues/1").text
        table = client.get("/editor/issues/1/links.csv")
        open_overview = client.get("/editor").text
        _close_windows(engine, settings)
        closed_overview = client.get("/editor").text
    with session_scope(engine, read_only=True) as session:
        want = clicks.issue_click_figures(session, issue_id)
    assert want.human_clickers == 2 and 0 < want.bot_share < 1  # the clicks were counted
    assert f'id="clicks-delivered">{want.delivered}<' in page
    assert 'id="clicks-clickers">2<' in page
    assert f'id="clicks-rate">{percent(want.click_rate)}<' in page
    assert f'id="clicks-bots">{percent(want.bot_share)}<' in page
    assert f'id="clicks-raw">{want.raw_hits}<' in page
    assert 'id="clicks-openers"' in page and 'id="clicks-proxies"' in page  # opens are on
    assert "Tracking: aggregate" in page and 'id="clicks-off"' not in page
    for link in want.links:
        counts = (link.human_unique, link.human_hits, link.raw_unique, link.raw_hits)
        cells = "".join(f'<td class="number">{n}</td>' for n in counts)
        assert cells in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page  # only http(s) targets become links
    # the overview shows the rates once the window has closed (from its totals, fast)
    assert '<td class="number muted">counting</td>' in open_overview
    rates = f'<td class="number">{percent(want.click_rate)}</td><td class="number">{percent(want.bot_share)}</td>'
    assert rates not in open_overview and rates in closed_overview
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert table.headers["content-type"].startswith("text/csv")
    assert [int(r["human_unique"]) for r in rows] == [f.human_unique for f in want.links]


def test_with_tracking_off_the_page_says_clicks_are_not_tracked(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = _settings(tmp_path, database_url, track_clicks="off")
    send_week(engine, settings, readers=2)
    with live_server(settings) as base, httpx.Client(base_url=base) as client:
        assert login(client).status_code == 303
        page = client.get("/editor/issues/1").text
        overview = client.get("/editor").text
    assert 'id="clicks-off"' in page and "Clicks are not tracked" in page
    assert 'id="click-figures"' not in page
    assert '<a href="/editor/accounts">Accounts</a>' in overview  # the shared password is an owner


def test_a_breaker_pause_is_named_beside_resume(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = _settings(tmp_path, database_url)
    issue_id, _ = send_week(engine, settings, readers=2)
    with session_scope(engine) as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None
        issue.status = IssueStatus.PAUSED
        issue.pause_reason = f"{breaker.PREFIX}: complaints 1 = 50.00% of 2 delivered"
    with live_server(settings) as base, httpx.Client(base_url=base) as client:
        assert login(client).status_code == 303
        page = client.get("/editor/issues/1").text
    assert 'id="breaker"' in page and "circuit breaker stopped this send" in page
    assert 'aria-describedby="breaker">Resume after the circuit breaker<' in page
