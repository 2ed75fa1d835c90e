"""Run the installed `digest` console script in a subprocess, as a user or cron would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DIGEST = str(Path(sys.executable).with_name("digest"))


def digest_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "RESEND_"))}
    env.update(
        {
            "DIGEST_DATABASE_URL": database_url,
            "DIGEST_SECRET_FILE": str(tmp_path / "secret"),
            "DIGEST_OUTBOX_DIR": str(tmp_path / "outbox"),
            "DIGEST_BASE_URL": "http://digest.test",
            "DIGEST_SITE_URL": "https://site.test",
            "COLUMNS": "200",
        }
    )
    env.update(extra)
    return env


def run_digest(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DIGEST, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
