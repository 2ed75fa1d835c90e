"""Every `digest` run builds the whole command tree, so the command modules stay light: help
(and the start of every command, every cron run and every subprocess test) needs neither the
database stack nor the domain packages; a command imports those when it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from digest.cli.subscribers import StatusChoice
from digest.models import SubscriberStatus

# Top-level packages a help text never needs (pydantic is not here: typer itself uses it to
# read some options' values).
HEAVY = {
    "aiosmtpd",
    "alembic",
    "apscheduler",
    "fastapi",
    "jinja2",
    "mako",
    "psycopg",
    "pydantic_settings",
    "pygments",
    "requests",
    "resend",
    "sqlalchemy",
    "sqlmodel",
    "uvicorn",
}


def light(module: str) -> bool:
    """Our modules a help text may import: the CLI's own and the error tree."""
    return module in ("digest", "digest.errors", "digest.cli") or module.startswith("digest.cli.")


PROBE = """
import sys
from digest.cli import main
status = main(sys.argv[1:])
print(*sorted(sys.modules), file=sys.stderr)
sys.exit(status)
"""


def loaded_modules(code: str, *args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(result.stderr.split())


@pytest.mark.parametrize(
    "args",
    [["--help"], ["issue", "send", "--help"], ["subscribers", "list", "--help"], ["db", "--help"]],
)
def test_help_imports_no_domain_package(args: list[str]) -> None:
    modules = loaded_modules(PROBE, *args)
    assert {name.split(".")[0] for name in modules} & HEAVY == set()
    ours = {name for name in modules if name == "digest" or name.startswith("digest.")}
    assert {name for name in ours if not light(name)} == set()


def test_schema_state_needs_no_alembic() -> None:
    modules = loaded_modules("import sys, digest.migrate; print(*sys.modules, file=sys.stderr)")
    assert "digest.migrate" in modules and "alembic" not in modules


def test_status_choices_are_the_subscriber_statuses() -> None:
    assert [choice.value for choice in StatusChoice] == [
        status.value for status in SubscriberStatus
    ]
