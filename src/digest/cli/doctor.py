"""`digest doctor`: is this installation ready to send? One line per check, exit 1 on a failure.

It reads the settings, reaches the database and compares its schema with the code, proves the
transport (Resend: the key; SMTP: connect, EHLO, login; outbox: the folder takes a file) without
sending anything, asks DIGEST_BASE_URL for /healthz, and looks for the webhook secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from digest.cli.common import console, database_label, load_settings, open_engine, shown
from digest.errors import DigestError

# The checks import what they check (requests, SQLAlchemy, Alembic, the transports) when they
# run, so that every other `digest` command (and --help) starts without them.
if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from digest.config import Settings

HEALTHZ_TIMEOUT_SECONDS = 10.0


class Outcome(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    name: str
    outcome: Outcome
    detail: str


STYLE = {Outcome.OK: "green", Outcome.WARN: "yellow", Outcome.FAIL: "red", Outcome.SKIP: "dim"}


def doctor() -> None:
    """Check settings, database and schema, transport, public URL and webhook secret.

    One line per check; exit status 1 if any check fails (warnings do not fail).
    """
    findings = list(run_checks())
    for finding in findings:
        mark = f"[{STYLE[finding.outcome]}]{finding.outcome.value:<4}[/{STYLE[finding.outcome]}]"
        console.print(f"{mark}  {finding.name}: {shown(finding.detail)}")
    if any(finding.outcome is Outcome.FAIL for finding in findings):
        raise typer.Exit(1)


def run_checks() -> Iterator[Finding]:
    try:
        settings = load_settings()
    except DigestError as exc:
        yield Finding("settings", Outcome.FAIL, exc.message)
        for name in ("database", "schema", "transport", "base URL", "webhooks"):
            yield Finding(name, Outcome.SKIP, "needs valid settings first")
        return
    yield Finding("settings", Outcome.OK, _summary(settings))
    yield from _database(settings)
    yield _transport(settings)
    yield from _base_url(settings)
    yield _webhooks(settings)
    yield review_finding(settings)


def review_finding(settings: Settings) -> Finding:
    """DIGEST_REVIEW=required with nobody to remind is a send that silently waits."""
    from digest.config import ReviewMode

    if settings.review != ReviewMode.REQUIRED:
        return Finding("review", Outcome.OK, "auto: the scheduled run sends without approval")
    if not settings.editor_addresses:
        return Finding(
            "review",
            Outcome.WARN,
            "required, but DIGEST_EDITOR_EMAILS is empty: nobody is told an issue waits for "
            "approval, and an unapproved issue is not sent",
        )
    hours = f"{settings.review_notice_hours:g}"
    count = len(settings.editor_addresses)
    return Finding("review", Outcome.OK, f"required; {count} editor(s) reminded {hours} h ahead")


def _summary(settings: Settings) -> str:
    return (
        f"{settings.env.value}; transport {settings.transport.value}; sending "
        f"{settings.send_schedule} {settings.timezone} from {settings.from_email}"
    )


def _database(settings: Settings) -> Iterator[Finding]:
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None:  # opening an engine would create it: the doctor changes nothing
        yield Finding("database", Outcome.FAIL, f"{missing} does not exist: run digest db upgrade")
        yield Finding("schema", Outcome.SKIP, "needs the database first")
        return
    engine = open_engine(settings)
    try:
        yield from _reach(engine, settings)
    finally:
        engine.dispose()


def _reach(engine: Engine, settings: Settings) -> Iterator[Finding]:
    from sqlalchemy.exc import SQLAlchemyError

    from digest import migrate
    from digest.db import check_database

    label = database_label(settings.database_url)
    try:
        check_database(engine)
        state = migrate.schema_state(engine)
        revision = migrate.database_revision(engine)
    except SQLAlchemyError as exc:
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        yield Finding("database", Outcome.FAIL, f"cannot reach {label}: {reason}")
        yield Finding("schema", Outcome.SKIP, "needs the database first")
        return
    yield Finding("database", Outcome.OK, f"reachable: {label}")
    outcome = Outcome.OK if state is migrate.SchemaState.CURRENT else Outcome.FAIL
    yield Finding("schema", outcome, migrate.describe_state(state, revision))


def _missing_sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database or "")
    return None if path.exists() else path


def _transport(settings: Settings) -> Finding:
    from digest.transports import check_transport, make_transport

    try:
        transport = make_transport(settings)
    except DigestError as exc:
        return Finding("transport", Outcome.FAIL, exc.message)
    try:
        return Finding("transport", Outcome.OK, check_transport(transport))
    except DigestError as exc:
        return Finding("transport", Outcome.FAIL, f"{settings.transport.value}: {exc.message}")
    finally:
        transport.close()


def _base_url(settings: Settings) -> Iterator[Finding]:
    from digest.config import Environment

    url = settings.base_url
    if url.startswith("https://"):
        yield Finding("base URL", Outcome.OK, f"{url} is https")
    else:
        production = settings.env is Environment.PRODUCTION
        yield Finding(
            "base URL",
            Outcome.FAIL if production else Outcome.WARN,
            f"{url} is not https: fine on a laptop; List-Unsubscribe needs https in production",
        )
    yield _healthz(url)


def _healthz(base_url: str) -> Finding:
    import requests

    target = f"{base_url}/healthz"
    try:
        response = requests.get(target, timeout=HEALTHZ_TIMEOUT_SECONDS, allow_redirects=False)
    except requests.Timeout:
        detail = f"{target} did not answer within {HEALTHZ_TIMEOUT_SECONDS:g} s"
        return Finding("healthz", Outcome.FAIL, detail)
    except requests.RequestException as exc:
        detail = (
            f"{target} does not answer ({type(exc).__name__}): is digest serve running, and "
            "does DIGEST_BASE_URL lead to it?"
        )
        return Finding("healthz", Outcome.FAIL, detail)
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and isinstance(body, dict) and body.get("status") == "ok":
        return Finding("healthz", Outcome.OK, f"{target} answers ok (schema {body.get('schema')})")
    said = body if isinstance(body, dict) and body else response.reason
    return Finding("healthz", Outcome.FAIL, f"{target} answers {response.status_code}: {said}")


def _webhooks(settings: Settings) -> Finding:
    from digest.config import TransportName

    if settings.resend_webhook_secret is not None:
        return Finding(
            "webhooks",
            Outcome.OK,
            f"RESEND_WEBHOOK_SECRET set: {settings.base_url}/webhooks/resend",
        )
    if settings.transport is TransportName.RESEND:
        return Finding(
            "webhooks",
            Outcome.FAIL,
            "RESEND_WEBHOOK_SECRET is not set: bounces and complaints would go unrecorded "
            f"(add the webhook {settings.base_url}/webhooks/resend in Resend, copy its secret)",
        )
    return Finding(
        "webhooks", Outcome.WARN, "RESEND_WEBHOOK_SECRET is not set (needed with Resend)"
    )
