"""Send requests across real processes, on both engines: three `digest worker --once` started
together after two clicks claim the one request once and mail each reader once."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import editors
from digest.config import Settings
from digest.db import session_scope
from digest.models import Issue, IssueStatus, SendRequest
from tests.support.cli import DIGEST, digest_env
from tests.support.issue_data import import_docs, week_of
from tests.support.ledger import add_readers


def test_three_worker_processes_send_once(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    now = datetime.now(UTC)
    import_docs(engine, week_of(now, 2), now=now)
    with session_scope(engine) as session:
        add_readers(session, 6)
    for _ in range(2):
        with session_scope(engine) as session:
            editors.request_send(session, settings, number=1, actor="ed@example.com", now=now)
    env = digest_env(tmp_path, settings.database_url)
    workers = [
        subprocess.Popen(
            [DIGEST, "worker", "--once"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [worker.communicate(timeout=180) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], [err for _, err in outputs]
    assert sum("issue #1: sent" in out for out, _ in outputs) == 1, outputs
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 6
    with session_scope(engine, read_only=True) as session:
        requests = session.exec(select(SendRequest)).all()
        statuses = [i.status for i in session.exec(select(Issue)).all()]
    assert len(requests) == 1 and requests[0].outcome == "started"
    assert statuses == [IssueStatus.SENT]
