"""Stored text never steers the operator's terminal: every listing runs with hostile names.

The names are written straight into the store (as an old version, a restore or a hand edit
could leave them), so the CLI's own escaping is what is tested, not the input cleaning.
"""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest.config import Settings
from digest.db import session_scope
from digest.models import Comparison, Delivery, DeliveryStatus, Issue, Tool
from tests.support.cli import digest_env, run_digest
from tests.support.ledger import NOW, add_readers
from tests.support.samples import load, sample_documents

AT = ["--now", NOW.isoformat()]
MARKUP = "[/bold]"
HOSTILE = [
    MARKUP,
    "Alpha [/b]",
    "[link=https://evil.example]click[/link]",
    "\x1b]8;;https://evil.example\x1b\\click here\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x1b[8mhidden\x1b[0m",  # concealed text
    "\x9b31mC1 red",  # C1 CSI
    "abc\u202edcba\u2066x\u2069",  # bidi override and isolate
    "over\rwrite",
    "trailing backslash\\",
    ":thumbs_up:",
]
# What must never reach the terminal: ESC, C1 controls, bidi controls, carriage returns.
FORBIDDEN = re.compile("[\x1b\r\x80-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def env(tmp_path: Path, settings: Settings, engine: Engine) -> dict[str, str]:
    load(engine, sample_documents(), now=NOW - timedelta(days=1))
    with session_scope(engine) as session:
        readers = add_readers(session, len(HOSTILE))
        for reader, name in zip(readers, HOSTILE, strict=True):
            reader.name = name
            session.add(reader)
        tools = session.exec(select(Tool).order_by(col(Tool.id))).all()
        for tool, name in zip(tools, HOSTILE[1:], strict=False):
            session.execute(update(Tool).where(col(Tool.id) == tool.id).values(name=name))
        session.execute(update(Comparison).values(title=HOSTILE[3] + " " + MARKUP))
    return digest_env(tmp_path, settings.database_url)


def check(result: subprocess.CompletedProcess[str], *, codes: tuple[int, ...] = (0,)) -> str:
    output = result.stdout + result.stderr
    assert result.returncode in codes, output
    assert "Traceback" not in output and "MarkupError" not in output, output
    found = FORBIDDEN.search(output)
    assert found is None, f"{found.group()!r} reached the terminal: {output!r}"
    return output


def test_every_listing_prints_hostile_names_as_text(
    tmp_path: Path, env: dict[str, str], engine: Engine
) -> None:
    listed = check(run_digest(["subscribers", "list"], env, tmp_path))
    assert MARKUP in listed and "Alpha [/b]" in listed and "hidden" in listed
    assert "[link=https://evil.example]click[/link]" in listed
    comparisons = check(run_digest(["comparisons", "list"], env, tmp_path))
    assert "Alpha [/b]" in comparisons and MARKUP in comparisons
    check(run_digest(["issue", "preview", *AT], env, tmp_path), codes=(0, 1))
    check(run_digest(["issue", "preview", "--text", *AT], env, tmp_path), codes=(0, 1))
    check(run_digest(["issue", "send", "--dry-run", *AT], env, tmp_path))
    check(run_digest(["issue", "edit", "--subject", "Alpha [/b]", *AT], env, tmp_path))
    sent = check(run_digest(["issue", "send", *AT], env, tmp_path))
    assert "Alpha [/b]" in sent and "Issue #1 is sent." in sent
    check(run_digest(["issue", "send", *AT], env, tmp_path))  # the rerun prints it again
    _plant_failure_reasons(engine)
    shown = check(run_digest(["issue", "show", "1"], env, tmp_path))
    assert "Alpha [/b]" in shown and MARKUP in shown
    check(run_digest(["issue", "list"], env, tmp_path))
    check(run_digest(["subscribers", "remove", "[/b]@example.com"], env, tmp_path), codes=(1,))


def _plant_failure_reasons(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.execute(update(Issue).values(pause_reason=HOSTILE[3]))
        deliveries = session.exec(select(Delivery)).all()
        for delivery, reason in zip(deliveries, HOSTILE, strict=False):
            delivery.status, delivery.error = DeliveryStatus.FAILED, reason
            session.add(delivery)
