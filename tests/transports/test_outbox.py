"""The outbox transport: the shared contract, plus atomic, one-file-per-message writing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from digest.errors import TransportError
from digest.transports.outbox import OutboxTransport
from tests.support.outbox import read_outbox
from tests.transports.contract import Harness, TransportContract, make_email


class TestOutboxContract(TransportContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Harness:
        directory = tmp_path / "outbox"
        return Harness(
            OutboxTransport(directory),
            lambda: read_outbox(directory),
            lambda: [path.read_bytes() for path in sorted(directory.glob("*.eml"))],
        )


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    transport = OutboxTransport(tmp_path / "outbox")
    transport.send_batch([make_email(n) for n in range(5)], idempotency_key="k")
    names = [p.name for p in (tmp_path / "outbox").iterdir()]
    assert len(names) == 5 and all(n.endswith(".eml") and not n.startswith(".") for n in names)


def test_message_id_is_stable_per_reference(tmp_path: Path) -> None:
    first, second = OutboxTransport(tmp_path / "a"), OutboxTransport(tmp_path / "b")
    first.send_batch([make_email(1)], idempotency_key="k")
    second.send_batch([make_email(1)], idempotency_key="k")
    assert (
        read_outbox(tmp_path / "a")[0]["Message-ID"] == read_outbox(tmp_path / "b")[0]["Message-ID"]
    )


def test_unwritable_outbox_is_a_retryable_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TransportError) as caught:
        OutboxTransport(blocker / "outbox").send_batch([make_email(1)], idempotency_key="k")
    assert caught.value.retryable


def test_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """They hold links that never expire (unsubscribe, preferences): 0600, in a 0700 folder."""
    previous = os.umask(0o022)  # the usual umask, which made them world-readable
    try:
        OutboxTransport(tmp_path / "outbox").send_batch(
            [make_email(n) for n in range(2)], idempotency_key="k"
        )
    finally:
        os.umask(previous)
    files = list((tmp_path / "outbox").iterdir())
    assert len(files) == 2
    assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {0o600}
    assert stat.S_IMODE((tmp_path / "outbox").stat().st_mode) == 0o700


def test_check_of_an_unwritable_outbox_names_the_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TransportError, match="not a writable folder") as caught:
        OutboxTransport(blocker / "outbox").check()
    assert str(blocker) in caught.value.message


def test_check_creates_nothing(tmp_path: Path) -> None:
    proven = OutboxTransport(tmp_path / "later" / "outbox").check()
    assert "will be created" in proven and list(tmp_path.iterdir()) == []
