"""The disk fills under the outbox: no half-written `.eml` under its final name, the failing
batch waits (the others stand), the issue pauses with the reason, and a rerun after space is
freed finishes with exactly one file per reader.

Two ways to fill it: a real tmpfs of 64 KiB (when this machine lets the test mount one: root),
and everywhere a double at the OS seam (`OutboxTransport.write_file`) that writes half a file
and fails with ENOSPC once its room is used up.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.models import IssueStatus
from digest.transports.outbox import OutboxTransport
from tests.support.ledger import run_send, setup_send
from tests.support.outbox import read_outbox

READERS = 60


class FillingDisk(OutboxTransport):
    """Room for `room` bytes; the write that does not fit stores half its data, then ENOSPC."""

    def __init__(self, directory: Path, room: int) -> None:
        super().__init__(directory)
        self.room: int | None = room

    def write_file(self, path: Path, data: bytes) -> None:
        if self.room is not None and len(data) > self.room:
            path.write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        if self.room is not None:
            self.room -= len(data)
        super().write_file(path, data)

    def free_space(self) -> None:
        self.room = None


def assert_whole_files_only(directory: Path) -> set[str]:
    """Every file under a final name parses whole; no temporary file is left. Returns the
    recipients found."""
    names = [p.name for p in directory.iterdir()]
    assert all(n.endswith(".eml") and not n.startswith(".") for n in names), names
    recipients = []
    for message in read_outbox(directory):
        html = message.get_body(("html",))
        assert html is not None and "</html>" in html.get_content()
        recipients.append(str(message["To"]))
    assert len(recipients) == len(set(recipients)), "a reader has two files"
    return set(recipients)


def test_a_full_disk_at_the_os_seam_pauses_and_a_rerun_finishes_once(
    engine: Engine, settings: Settings
) -> None:
    settings = settings.model_copy(update={"batch_size": 5})
    issue_id = setup_send(engine, settings, READERS)
    full = FillingDisk(settings.outbox_dir, room=20_000)
    first = run_send(engine, settings, issue_id, full, workers=2)
    assert first.issue.status == IssueStatus.PAUSED
    reason = first.issue.pause_reason or ""
    assert "is full" in reason and "No space left" in reason, reason
    assert first.counts["failed"] == 0 and first.counts["queued"] > 0 and first.counts["sent"] > 0
    written = assert_whole_files_only(full.directory)
    assert len(written) >= first.counts["sent"]  # the failing batch's earlier files stay
    full.free_space()
    second = run_send(engine, settings, issue_id, full, workers=2)
    assert second.issue.status == IssueStatus.SENT
    assert second.counts == {"queued": 0, "sent": READERS, "failed": 0, "skipped": 0}
    assert assert_whole_files_only(full.directory) == {
        f"reader{n}@example.com" for n in range(READERS)
    }


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "outbox"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_tmpfs_pauses_and_a_rerun_after_growing_it_finishes_once(
    sqlite_engine: Engine, sqlite_settings: Settings, tiny_tmpfs: Path
) -> None:
    small = sqlite_settings.model_copy(update={"batch_size": 5, "outbox_dir": tiny_tmpfs})
    issue_id = setup_send(sqlite_engine, small, READERS)
    grow = ["mount", "-o", "remount,size=4m", str(tiny_tmpfs)]
    transport = OutboxTransport(tiny_tmpfs)
    first = run_send(sqlite_engine, small, issue_id, transport, workers=2)
    assert first.issue.status == IssueStatus.PAUSED, first.counts
    assert "No space left" in (first.issue.pause_reason or "")
    assert_whole_files_only(tiny_tmpfs)
    subprocess.run(grow, check=True, capture_output=True)
    second = run_send(sqlite_engine, small, issue_id, transport, workers=2)
    assert second.counts == {"queued": 0, "sent": READERS, "failed": 0, "skipped": 0}
    assert assert_whole_files_only(tiny_tmpfs) == {f"reader{n}@example.com" for n in range(READERS)}
