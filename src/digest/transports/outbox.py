"""The embedded default transport: one `.eml` file per message in a folder.

Files are written atomically (temporary file, fsync, rename) and named after the message's
reference, so sending the same message twice leaves exactly one file, and a file under its final
name is always whole: a write that fails (a full disk) removes its temporary file. A full disk
(ENOSPC, EDQUOT) pauses the send with the reason instead of retrying within seconds. Files hold
links that never expire, so they are readable by their owner only (0600; the folder 0700).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from digest.errors import QuotaExceeded, TransportError
from digest.transports.base import OutgoingEmail, SendResult
from digest.transports.headers import UNSENDABLE
from digest.transports.mime import build_message

FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class OutboxTransport:
    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def send_batch(
        self, emails: Sequence[OutgoingEmail], *, idempotency_key: str
    ) -> list[SendResult]:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            return [self._write(email, idempotency_key) for email in emails]
        except OSError as exc:
            if exc.errno in FULL:
                raise QuotaExceeded(
                    f"outbox {self.directory} is full ({exc.strerror}); free space, then run "
                    "the send again"
                ) from exc
            raise TransportError(
                f"cannot write to outbox {self.directory}: {exc.strerror}", retryable=True
            ) from exc

    def close(self) -> None:
        """Nothing to release."""

    def check(self) -> str:
        """The folder takes a file, or can be created where it is configured (nothing is
        created by checking); TransportError says why not."""
        existing = self.directory
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing != self.directory:
            if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
                return f"outbox folder {self.directory.resolve()} will be created on first send"
            raise TransportError(
                f"outbox {self.directory} cannot be created: {existing} is not a writable folder",
                retryable=False,
            )
        probe = self.directory / f".digest-check.{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise TransportError(
                f"outbox {self.directory} is not writable: {exc.strerror}", retryable=False
            ) from exc
        return f"outbox folder {self.directory.resolve()} is writable"

    def path_for(self, email: OutgoingEmail) -> Path:
        return self.directory / file_name(email.reference)

    def _write(self, email: OutgoingEmail, key: str) -> SendResult:
        target = self.path_for(email)
        if not target.exists():
            try:
                data = build_message(email, idempotency_key=key, linesep=os.linesep)
            except UNSENDABLE as exc:
                return SendResult(email.reference, error=f"not sent: {exc}", permanent=True)
            temporary = target.with_name(
                f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
            )
            try:
                self.write_file(temporary, data)
                os.replace(temporary, target)
            except OSError:
                with contextlib.suppress(OSError):
                    temporary.unlink()
                raise
        return SendResult(reference=email.reference, provider_id=target.name)

    def write_file(self, path: Path, data: bytes) -> None:
        """The OS seam: write and fsync one new file, readable and writable by its owner only."""
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask or a leftover file said
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def file_name(reference: str) -> str:
    """`<readable part>-<hash>.eml`: readable in a listing, unique per reference."""
    readable = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in reference)[:60]
    digest = hashlib.sha256(reference.encode()).hexdigest()[:12]
    return f"{readable}-{digest}.eml"
