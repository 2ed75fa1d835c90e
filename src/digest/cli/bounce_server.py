"""The SMTP/LMTP receiver behind `digest bounces serve` (aiosmtpd): bounces in, ledger out.

It accepts mail only for our VERP addresses (`bounces+...@DIGEST_BOUNCE_DOMAIN`), reads each
message with `bounces.read_bounce` and records it with `bounces.record_bounce` before it
answers 250; while the database is away it answers 451, so the sending server keeps the bounce
and tries again later. Messages it cannot classify are kept in DIGEST_BOUNCE_KEEP_DIR.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.engine import Engine

from digest import bounces
from digest.config import Settings
from digest.db import in_store, utcnow
from digest.errors import StoreUnavailable

MAX_MESSAGE_BYTES = 2_000_000
MAX_RECIPIENTS = 10
STORE_PATIENCE = 5.0  # then 451: the sending server retries later, nothing is lost
log = logging.getLogger(__name__)


class BounceHandler:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        assert settings.bounce_domain is not None
        self.engine, self.settings = engine, settings
        self.domain = settings.bounce_domain

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        local, _, domain = address.lower().rpartition("@")
        if domain != self.domain or not (local == "bounces" or local.startswith("bounces+")):
            return "550 5.1.1 not a bounce address of this service"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode("utf-8", "replace")
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(None, self.record, raw, list(envelope.rcpt_tos))
        except StoreUnavailable as exc:
            log.warning("bounce not recorded, answered 451: %s", exc.message)
            return "451 4.3.0 temporarily unable to record the bounce; try again later"
        except Exception:  # a 5xx would make the sending server drop the bounce for good
            log.exception("bounce not recorded, answered 451")
            return "451 4.3.0 temporarily unable to record the bounce; try again later"
        log.info("bounce for %s: %s", ",".join(envelope.rcpt_tos)[:200], outcome)
        return "250 2.0.0 bounce recorded"

    def record(self, raw: bytes, recipients: list[str]) -> str:
        bounce = bounces.read_bounce(raw, envelope_to=recipients)
        outcome = in_store(
            self.engine,
            lambda session: bounces.record_bounce(
                session, bounce, settings=self.settings, now=utcnow()
            ),
            patience=STORE_PATIENCE,
            what="the bounce receiver",
        )
        if bounce.kind is bounces.BounceKind.UNKNOWN:
            keep_unclassified(self.settings.bounce_keep_dir, raw)
        return outcome


def keep_unclassified(folder: Path, raw: bytes) -> Path | None:
    """Keep a message we could not classify for a person to read (atomic; one file per
    content). A full or unwritable folder only loses the copy, never the bounce's record."""
    data = raw[:MAX_MESSAGE_BYTES]
    target = folder / f"{hashlib.sha256(data).hexdigest()[:24]}.eml"
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            temporary.write_bytes(data)
            os.replace(temporary, target)
    except OSError as exc:
        log.warning("could not keep an unclassified bounce in %s: %s", folder, exc.strerror)
        with contextlib.suppress(OSError):
            temporary.unlink()
        return None
    return target


class LmtpController(Controller):
    def factory(self) -> SMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


def make_controller(
    engine: Engine, settings: Settings, *, host: str, port: int, lmtp: bool
) -> Controller:
    kind = LmtpController if lmtp else Controller
    return kind(
        BounceHandler(engine, settings),
        hostname=host,
        port=port,
        data_size_limit=MAX_MESSAGE_BYTES,
        enable_SMTPUTF8=True,
        server_hostname=settings.bounce_domain,
        timeout=60,
    )
