"""Shared fixtures of the desk's web tests (nothing imports this file): an editor-enabled app
on the test's database (both engines), a logged-in client, and a known history with hostile
text in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.models import Issue
from tests.support.desk_data import HOSTILE_NAME, History, build_history, reader
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings
from tests.web.test_editor import PASSWORD, login


@pytest.fixture
def desk_settings(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    return make_test_settings(tmp_path, settings.database_url, editor_password=PASSWORD)


@pytest.fixture
def history(engine: Engine) -> History:
    with session_scope(engine) as session:
        found = build_history(session)
        issue = session.get(Issue, found.issue_ids[0])
        assert issue is not None
        issue.subject = HOSTILE_NAME  # a subject is content from the catalog: shown escaped
        reader(session, 77, name=HOSTILE_NAME)
    return found


@pytest.fixture
def client(desk_settings: Settings) -> Iterator[httpx.Client]:
    with live_server(desk_settings) as base, httpx.Client(base_url=base) as client:
        assert login(client).status_code == 303
        yield client
