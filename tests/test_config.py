"""Settings: production refuses weak secrets; development keeps one generated secret."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from digest.config import Settings, get_settings
from digest.errors import ConfigError
from tests.support.settings import make_test_settings


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    secret_file = tmp_path / "state" / "secret"
    first = get_settings(_env_file=None, secret_file=secret_file).secret
    second = get_settings(_env_file=None, secret_file=secret_file).secret
    assert first == second and len(first) >= 32
    assert secret_file.stat().st_mode & 0o077 == 0  # not readable by others


def test_explicit_secret_wins(tmp_path: Path) -> None:
    settings = get_settings(_env_file=None, secret_key="x" * 40, secret_file=tmp_path / "s")
    assert settings.secret == "x" * 40
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("secret", [None, "change-me", "short"])
def test_production_refuses_missing_or_placeholder_secret(
    tmp_path: Path, secret: str | None
) -> None:
    with pytest.raises(ConfigError, match="DIGEST_SECRET_KEY"):
        get_settings(
            _env_file=None, env="production", secret_key=secret, secret_file=tmp_path / "s"
        )
    assert not (tmp_path / "s").exists()


PRODUCTION = {
    "_env_file": None,
    "env": "production",
    "secret_key": "k" * 48,
    "base_url": "https://news.aitoolverdicts.com",
    "from_email": "Weekly AI Tool Verdicts <digest@aitoolverdicts.com>",
    "postal_address": "Weekly AI Tool Verdicts, 12 Rue de la Paix, 75002 Paris",
}


def test_production_accepts_a_real_secret(tmp_path: Path) -> None:
    settings = get_settings(**PRODUCTION)
    assert settings.secret == "k" * 48


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DIGEST_BASE_URL", "http://news.aitoolverdicts.com"),
        ("DIGEST_BASE_URL", "https://127.0.0.1:8000"),
        ("DIGEST_BASE_URL", "https://localhost"),
        ("DIGEST_BASE_URL", "https://[::1]:8443"),
        ("DIGEST_BASE_URL", "https://0.0.0.0"),
        ("DIGEST_BASE_URL", "https://digest.aitoolverdicts.example"),
        ("DIGEST_FROM_EMAIL", "Weekly AI Tool Verdicts <digest@aitoolverdicts.example>"),
        ("DIGEST_FROM_EMAIL", "news@example.com"),
        ("DIGEST_FROM_EMAIL", "not an address"),
        ("DIGEST_POSTAL_ADDRESS", "Weekly AI Tool Verdicts, 1 Example Street, Example City"),
        ("DIGEST_POSTAL_ADDRESS", "  "),
    ],
)
def test_production_refuses_laptop_values_naming_the_setting(name: str, value: str) -> None:
    field = name.removeprefix("DIGEST_").lower()
    with pytest.raises(ConfigError, match=name) as refused:
        get_settings(**{**PRODUCTION, field: value})
    assert "production" in refused.value.message


def test_production_defaults_are_refused_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_ENV", "production")
    monkeypatch.setenv("DIGEST_SECRET_KEY", "k" * 48)
    with pytest.raises(ConfigError, match=r"DIGEST_BASE_URL.*https"):
        get_settings()


def test_development_keeps_the_laptop_defaults(tmp_path: Path) -> None:
    settings = get_settings(_env_file=None, secret_file=tmp_path / "s")
    assert settings.base_url.startswith("http://127.0.0.1")


def test_environment_variables_and_resend_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DIGEST_BATCH_SIZE", "50")
    monkeypatch.setenv("RESEND_API_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("RESEND_API_KEY", "re_test")
    settings = get_settings(_env_file=None, secret_file=tmp_path / "s")
    assert settings.batch_size == 50
    assert settings.resend_api_url == "http://127.0.0.1:9999"
    assert (
        settings.resend_api_key is not None
        and settings.resend_api_key.get_secret_value() == "re_test"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "DIGEST_TIMEZONE",
            "Mars/Olympus",
            "DIGEST_TIMEZONE is invalid: Value error, unknown time zone",
        ),
        ("DIGEST_BATCH_SIZE", "500", "DIGEST_BATCH_SIZE is invalid"),
        ("DIGEST_BASE_URL", "example.com", "DIGEST_BASE_URL is invalid"),
        ("DIGEST_TRANSPORT", "pigeon", "DIGEST_TRANSPORT is invalid"),
        ("DIGEST_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local", "'proxy.local' is not an IP"),
        ("DIGEST_REQUEST_READ_TIMEOUT", "0", "DIGEST_REQUEST_READ_TIMEOUT is invalid"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        get_settings(_env_file=None, secret_file=tmp_path / "s")


def test_env_example_lists_every_setting() -> None:
    from digest.config import Settings

    example = (Path(__file__).parents[1] / ".env.example").read_text()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = alias.choices[0] if alias is not None else f"DIGEST_{name.upper()}"  # type: ignore[union-attr]
        assert f"{variable}=" in example, f"{variable} is missing from .env.example"


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_secrets_count_as_unset(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    """A blank secret, as in .env.example, is unset: never "the empty token"."""
    for name in ("DIGEST_API_TOKEN", "DIGEST_EDITOR_PASSWORD", "RESEND_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, blank)
    blank_settings = make_test_settings(tmp_path, settings.database_url)
    assert blank_settings.api_token is None
    assert blank_settings.editor_password is None
    assert blank_settings.resend_webhook_secret is None


@pytest.mark.parametrize(
    "secret",
    ["whsec_", "whsec_" + base64.b64encode(b"short").decode(), "whsec_not base64!"],
)
def test_weak_webhook_secret_is_refused_at_startup(
    tmp_path: Path, settings: Settings, secret: str
) -> None:
    """An empty or short webhook key is a configuration error, named, at startup."""
    with pytest.raises(ConfigError, match="RESEND_WEBHOOK_SECRET"):
        make_test_settings(tmp_path, settings.database_url, RESEND_WEBHOOK_SECRET=secret)


def test_trusted_proxies_are_networks(tmp_path: Path) -> None:
    settings = get_settings(
        _env_file=None, secret_file=tmp_path / "s", trusted_proxies="127.0.0.1, 10.0.0.0/8 ::1"
    )
    assert [str(n) for n in settings.trusted_networks] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert get_settings(_env_file=None, secret_file=tmp_path / "s").trusted_networks == ()
