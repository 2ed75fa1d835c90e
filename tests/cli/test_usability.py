"""The first hours with the CLI: help that says what it means, clear answers to bad options and
unreachable databases, an interrupted send that says how to resume, tables that cut nothing."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.cli import app
from digest.config import Settings
from digest.db import session_scope
from digest.models import Subscriber
from tests.support.cli import DIGEST, digest_env, run_digest
from tests.support.ledger import NOW, add_readers
from tests.support.resend_server import FakeResend
from tests.support.samples import load, sample_documents

AT = ["--now", NOW.isoformat()]
LONG_ADDRESS = "a-very-long-local-part-for-a-reader-who-likes-long-names@subdomain.example.com"


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


def first_column(table: str) -> str:
    """The first column's text, its folded lines joined."""
    cells = [line.split("│")[1] for line in table.splitlines() if line.count("│") > 1]
    return "".join(cell.strip() for cell in cells)


def test_help_shows_defaults_and_no_type_on_flags(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(tmp_path, sqlite_url)
    paths = list(command_paths(typer.main.get_command(app)))
    assert ("issue", "send") in paths and ("serve",) in paths
    for path in paths:
        result = run_digest([*path, "--help"], env, tmp_path)
        assert result.returncode == 0, (path, result.stderr)
        assert "<bool>" not in result.stdout, (path, result.stdout)
        assert not re.search(r"\w \.$", result.stdout, re.MULTILINE), (path, result.stdout)
        assert "[default: ]" not in result.stdout, (path, result.stdout)
    serve = run_digest(["serve", "--help"], env, tmp_path).stdout
    assert "[default: DIGEST_PORT]" in serve and "--dry-run" not in serve


def test_an_impossible_port_is_a_usage_error(tmp_path: Path, sqlite_url: str) -> None:
    for port in ("99999", "0", "-1", "http"):
        result = run_digest(["serve", "--port", port], digest_env(tmp_path, sqlite_url), tmp_path)
        assert result.returncode == 2, result.stderr
        assert "--port" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_database_is_not_told_to_upgrade(tmp_path: Path) -> None:
    urls = [
        "postgresql+psycopg://reader:s3cr3t-pw@127.0.0.1:1/digest",
        f"sqlite:///{tmp_path / 'no-such-folder' / 'subscribers.db'}",
    ]
    for url in urls:
        result = run_digest(["comparisons", "list"], digest_env(tmp_path, url), tmp_path)
        assert result.returncode == 1
        assert "cannot" in result.stderr and "DIGEST_DATABASE_URL" in result.stderr
        assert "db upgrade" not in result.stderr and "s3cr3t-pw" not in result.stderr
        assert "Traceback" not in result.stderr


def test_tables_cut_no_address_or_header(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    load(engine, sample_documents(), now=NOW - timedelta(days=1))
    with session_scope(engine) as session:
        (reader,) = add_readers(session, 1)
        reader.email = LONG_ADDRESS
        session.add(reader)
    env = digest_env(tmp_path, settings.database_url)
    assert run_digest(["issue", "send", *AT], env, tmp_path).returncode == 0
    narrow = {**env, "COLUMNS": "80"}
    piped = {k: v for k, v in env.items() if k != "COLUMNS"}
    for environment in (narrow, piped):
        listed = run_digest(["subscribers", "list"], environment, tmp_path).stdout
        assert "…" not in listed
        assert LONG_ADDRESS in first_column(listed)
        issues = run_digest(["issue", "list"], environment, tmp_path).stdout
        assert "…" not in issues and "Skipped" in issues
    piped_list = run_digest(["subscribers", "list"], piped, tmp_path).stdout
    assert LONG_ADDRESS in piped_list  # a pipe gets every row on one line, for grep


def test_ctrl_c_mid_send_says_that_running_again_resumes(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    load(engine, sample_documents(), now=NOW - timedelta(days=1))
    with session_scope(engine) as session:
        add_readers(session, 40)
    with FakeResend() as fake:
        # The second batch is held at the fake: the signal arrives while it is in flight,
        # whatever the machine's speed, and 18 batches are still to go.
        fake.inject("slow", seconds=0.0)
        fake.inject("slow", seconds=4.0)
        env = digest_env(
            tmp_path,
            settings.database_url,
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url,
            DIGEST_BATCH_SIZE="2",
            DIGEST_RATE_LIMIT="1000",
            DIGEST_SEND_WORKERS="1",
        )
        process = subprocess.Popen(
            [DIGEST, "issue", "send", *AT],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for(lambda: fake.key_requests.total() >= 2 or process.poll() is not None)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 130, err
        assert "run `digest issue send` again to resume" in err.lower(), err
        assert "Traceback" not in err
        resumed = run_digest(["issue", "send", *AT], env, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        received = fake.recipients()
    with session_scope(engine, read_only=True) as session:
        readers = len(session.exec(select(Subscriber)).all())
    assert len(received) == readers and set(received.values()) == {1}


def _wait_for(condition: object, timeout: float = 60.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_production_refuses_an_http_base_url_by_name(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(
        tmp_path,
        sqlite_url,
        DIGEST_ENV="production",
        DIGEST_SECRET_KEY="k" * 48,
        DIGEST_BASE_URL="http://127.0.0.1:8000",
    )
    result = run_digest(["comparisons", "list"], env, tmp_path)
    assert result.returncode == 1 and "DIGEST_BASE_URL" in result.stderr
    assert "https" in result.stderr and "Traceback" not in result.stderr
