"""Settings: read once from the environment or `.env`, then passed in, never imported as a global.

Names follow DESIGN.md: `DIGEST_*`, except Resend's own `RESEND_*`. `get_settings()` also settles
the secret key: explicit in production, otherwise generated once and kept in a file so that tokens
issued before a restart still verify after it.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import secrets
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from digest.errors import ConfigError

MIN_WEBHOOK_KEY_BYTES = 16
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev", "development", "placeholder"}
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ReviewMode(StrEnum):
    AUTO = "auto"  # the scheduled run sends the issue as it stands
    REQUIRED = "required"  # the scheduled run sends only an issue an editor approved


class TransportName(StrEnum):
    OUTBOX = "outbox"
    RESEND = "resend"
    SMTP = "smtp"


class ClickTracking(StrEnum):
    OFF = "off"  # every link stays as it is
    AGGREGATE = "aggregate"  # counts only, never which reader clicked
    CONSENTED = "consented"  # aggregate, plus per-reader clicks of readers who opted in


class Switch(StrEnum):
    OFF = "off"
    ON = "on"


class Settings(BaseSettings):
    """Every setting of the service; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="DIGEST_", env_file=".env", extra="ignore", frozen=True
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///subscribers.db"
    secret_key: SecretStr | None = None
    secret_file: Path = Path(".digest-secret")
    base_url: str = "http://127.0.0.1:8000"
    site_url: str = "https://aitoolverdicts.example"
    newsletter_name: str = "Weekly AI Tool Verdicts"
    from_email: str = "Weekly AI Tool Verdicts <digest@aitoolverdicts.example>"
    postal_address: str = "Weekly AI Tool Verdicts, 1 Example Street, Example City"
    transport: TransportName = TransportName.OUTBOX
    outbox_dir: Path = Path("outbox")
    smtp_url: str = "smtp://127.0.0.1:25"
    resend_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("RESEND_API_KEY")
    )
    resend_api_url: str = Field(
        default="https://api.resend.com", validation_alias=AliasChoices("RESEND_API_URL")
    )
    resend_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("RESEND_WEBHOOK_SECRET")
    )
    send_schedule: str = "mon 08:00"
    timezone: str = "UTC"
    rate_limit: float = Field(default=2.0, gt=0)
    batch_size: int = Field(default=100, ge=1, le=100)
    send_workers: int = Field(default=2, ge=1, le=32)
    send_lease_seconds: float = Field(default=120.0, gt=0)
    send_max_attempts: int = Field(default=6, ge=1, le=50)
    schedule_grace_hours: float = Field(default=6.0, gt=0)
    purge_unconfirmed_days: int = Field(default=30, ge=1)
    max_comparisons: int = Field(default=5, ge=1, le=50)
    editor_password: SecretStr | None = None
    api_token: SecretStr | None = None
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    confirm_max_age_days: int = Field(default=7, ge=1, le=90)
    confirm_resend_minutes: int = Field(default=10, ge=0)
    subscribe_min_seconds: float = Field(default=2.0, ge=0)
    subscribe_ip_limit: int = Field(default=20, ge=1)
    subscribe_address_limit: int = Field(default=5, ge=1)
    message_max_attempts: int = Field(default=8, ge=1, le=50)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # issue 15: faults and bounces
    db_retry_seconds: float = Field(default=60.0, ge=0)
    bounce_domain: str | None = None
    bounce_listen: str = "127.0.0.1:2525"
    bounce_soft_limit: int = Field(default=3, ge=1, le=100)
    bounce_keep_dir: Path = Path("bounces")
    # issue 9: web hardening
    trusted_proxies: str = ""  # CIDRs whose X-Forwarded-For is believed; none by default
    request_read_timeout: float = Field(default=10.0, gt=0, le=300)
    confirm_hourly_limit: int = Field(default=200, ge=1)
    data_link_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # issue 13: topics, welcome and the archive site
    welcome_skip_hours: float = Field(default=24.0, ge=0)
    # issue 11: the editor's desk
    review: ReviewMode = ReviewMode.AUTO
    editor_emails: str = ""  # who gets the review reminder: comma-separated addresses
    review_notice_hours: float = Field(default=24.0, ge=0, le=24 * 14)
    request_poll_seconds: float = Field(default=3.0, gt=0, le=60)

    @property
    def editor_addresses(self) -> tuple[str, ...]:
        """DIGEST_EDITOR_EMAILS as a list (validated: no header injection gets this far)."""
        return tuple(a.strip() for a in self.editor_emails.split(",") if a.strip())

    @field_validator("editor_emails")
    @classmethod
    def _editor_emails(cls, value: str) -> str:
        for address in (a.strip() for a in value.split(",")):
            if address and (
                not re.fullmatch(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+", address)
                or not address.isprintable()
            ):
                raise ValueError(f"{address!r} is not a plain email address")
        return value

    # issue 12: clicks, opens and the send's circuit breaker
    track_clicks: ClickTracking = ClickTracking.AGGREGATE
    click_window_days: int = Field(default=30, ge=1, le=365)
    click_link_days: int = Field(default=730, ge=1)  # how long a tracked link keeps working
    track_opens: Switch = Switch.OFF
    readers_pick: Switch = Switch.OFF
    breaker_bounce_rate: float = Field(default=0.02, gt=0, le=1)
    breaker_complaint_rate: float = Field(default=0.001, gt=0, le=1)
    breaker_min_sample: int = Field(default=200, ge=1)
    # issue 14: scale
    # Readers (by id range) written to the ledger per transaction: on SQLite each chunk holds
    # the write lock for a fraction of a second, and a crash mid-enqueue redoes at most one.
    enqueue_chunk: int = Field(default=20_000, ge=1)
    # on: `digest serve` acts on signups and sends readers' mail itself (one process is a whole
    # deployment); off: it only stores them and `digest worker` does the rest (docs/scale.md).
    web_sends_mail: Switch = Switch.ON
    # The CPU priority (nice, 0-19) `digest worker` and `digest scheduler` (and so the sends it
    # starts) run at; 0 leaves the priority they were started with. Unset, it depends on the
    # store (see `background_priority`).
    background_nice: int | None = Field(default=None, ge=0, le=19)
    # The largest CSV `digest subscribers import` reads (it streams: memory does not grow with
    # it); past it the import stops with a clear message. 256 MiB is about five million rows.
    import_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in value.replace(",", " ").split():
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return value

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """DIGEST_TRUSTED_PROXIES as networks (a bare address is a network of one)."""
        entries = self.trusted_proxies.replace(",", " ").split()
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as UTC)") from exc
        return value

    @field_validator(
        "secret_key", "api_token", "editor_password", "resend_webhook_secret", "resend_api_key"
    )
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # `DIGEST_API_TOKEN=` (as in .env.example) must mean "no token", never "the empty token".
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    @field_validator("resend_webhook_secret")
    @classmethod
    def _webhook_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(webhook_key(value.get_secret_value())) < MIN_WEBHOOK_KEY_BYTES:
            raise ValueError(
                f"must be whsec_ followed by base64 of at least {MIN_WEBHOOK_KEY_BYTES} bytes "
                "(copy it from the Resend dashboard)"
            )
        return value

    @field_validator("base_url", "site_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("background_nice", mode="before")
    @classmethod
    def _blank_nice_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def background_priority(self) -> int:
        """DIGEST_BACKGROUND_NICE, or when unset: 0 on SQLite, where the worker and the send take
        the write lock the site's signups wait for, and a low-priority holder is preempted and
        keeps it longer (priority inversion: signups 0.49x of the bare insert beside a worker at
        10, 0.57x at 0); 10 on PostgreSQL, where they share no lock with the site and a send
        beside `digest serve` otherwise takes the CPU its pages need (/healthz p99 while a send
        enqueues a million readers: 43-64 ms at 0, 33-42 ms at 10). Figures: docs/benchmarks.md."""
        if self.background_nice is not None:
            return self.background_nice
        return 10 if self.database_url.startswith("postgresql") else 0

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def secret(self) -> str:
        """The secret key; `get_settings()` guarantees it is set."""
        if self.secret_key is None:
            raise ConfigError("DIGEST_SECRET_KEY is not set; build settings with get_settings()")
        return self.secret_key.get_secret_value()

    # issue 15: faults and bounces
    @field_validator("bounce_domain")
    @classmethod
    def _bounce_domain(cls, value: str | None) -> str | None:
        value = (value or "").strip().lower().rstrip(".")
        if not value:
            return None
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?", value) or ".." in value:
            raise ValueError("must be a plain domain name, e.g. bounces.example.com")
        return value


def webhook_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_<base64>` secret; empty when it is not valid base64."""
    try:
        return base64.b64decode(secret.strip().removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return b""


def get_settings(**overrides: Any) -> Settings:
    """Read the settings and settle the secret key; raise ConfigError with a clear message."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    settled = settings.model_copy(update={"secret_key": SecretStr(_settle_secret(settings))})
    check_production(settled)
    return settled


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    name = field.upper() if field.upper().startswith("RESEND_") else f"DIGEST_{field.upper()}"
    return f"setting {name} is invalid: {first['msg']}"


def _settle_secret(settings: Settings) -> str:
    given = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if settings.env is Environment.PRODUCTION:
        if given.lower() in PLACEHOLDER_SECRETS or len(given) < MIN_SECRET_LENGTH:
            raise ConfigError(
                "DIGEST_ENV=production needs DIGEST_SECRET_KEY: a random value of at least "
                f"{MIN_SECRET_LENGTH} characters (python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        return given
    return given or _load_or_create_secret(settings.secret_file)


def _load_or_create_secret(path: Path) -> str:
    """Development only: one random secret per checkout, kept so tokens survive restarts."""
    if path.exists():
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(value, encoding="utf-8")
    tmp.chmod(0o600)
    # link() refuses an existing target: when two processes start at once, the first one's
    # secret wins for both, and nobody ever reads a half-written file.
    try:
        os.link(tmp, path)
    except FileExistsError:
        value = path.read_text(encoding="utf-8").strip()
    finally:
        tmp.unlink()
    return value


# issue 10: production refuses what only works on a laptop, naming the setting to change.
PLACEHOLDER_DOMAINS = ("aitoolverdicts.example", "example.com", "example.net", "example.org")
RESERVED_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".local")
PLACEHOLDER_ADDRESS = "1 example street"


def check_production(settings: Settings) -> None:
    """In production: an https base URL readers can reach (List-Unsubscribe must be https), a
    real sender domain and a real postal address. ConfigError names the setting."""
    if settings.env is not Environment.PRODUCTION:
        return
    problems = [
        ("DIGEST_BASE_URL", _base_url_problem(settings.base_url)),
        ("DIGEST_FROM_EMAIL", _sender_problem(settings.from_email)),
        ("DIGEST_POSTAL_ADDRESS", _postal_problem(settings.postal_address)),
    ]
    for name, problem in problems:
        if problem:
            raise ConfigError(f"DIGEST_ENV=production: {name} {problem}")


def _base_url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        return f"must be an https:// URL (the List-Unsubscribe link must be https); got {url!r}"
    if _local_host(host) or _placeholder_domain(host):
        return f"must be the public address readers reach, not {host!r}; got {url!r}"
    return None


def _sender_problem(from_email: str) -> str | None:
    address = parseaddr(from_email)[1]
    domain = address.rpartition("@")[2].lower().rstrip(".")
    if "@" not in address or not domain:
        return f"must be an address such as News <news@yourdomain.com>; got {from_email!r}"
    if _placeholder_domain(domain) or _local_host(domain):
        return (
            f"uses the placeholder domain {domain!r}: send from a domain verified with your "
            "provider (SPF and DKIM), e.g. News <news@yourdomain.com>"
        )
    return None


def _postal_problem(address: str) -> str | None:
    if not address.strip() or PLACEHOLDER_ADDRESS in address.lower():
        return (
            "is the placeholder; every email must carry your real postal address "
            "(CAN-SPAM and most inbox providers require it)"
        )
    return None


def _local_host(host: str) -> bool:
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified or ip.is_link_local


def _placeholder_domain(domain: str) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in PLACEHOLDER_DOMAINS) or (
        domain.endswith(RESERVED_SUFFIXES) or domain in {s.lstrip(".") for s in RESERVED_SUFFIXES}
    )
