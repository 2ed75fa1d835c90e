"""Settings for tests: a temporary folder, a fixed secret, the outbox transport."""

from __future__ import annotations

from pathlib import Path

from digest.config import Settings, get_settings

SECRET = "test-secret-key-that-is-long-enough-0123456789"


def make_test_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "_env_file": None,
        "database_url": database_url,
        "secret_key": SECRET,
        "secret_file": tmp_path / "secret",
        "outbox_dir": tmp_path / "outbox",
        "base_url": "http://digest.test",
        "site_url": "https://site.test",
        "transport": "outbox",
    }
    values.update(overrides)
    return get_settings(**values)
