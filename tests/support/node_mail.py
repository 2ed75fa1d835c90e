"""Read a raw message with Node's `mailparser` (npm), a parser that is not Python's.

Our tests must not pass only because Python's email package reads back what it wrote: Gmail
and Yahoo are not Python. `make test` installs the package (scripts/ensure-test-deps.sh);
without it the tests are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

FOLDER = Path(__file__).resolve().parent / "mailparser"


def node_parse(raw: bytes) -> dict[str, Any]:
    """What mailparser understood: subject, from, to, headers (by lower-case name), text."""
    node = shutil.which("node")
    if node is None or not (FOLDER / "node_modules" / "mailparser").is_dir():
        message = f"Node's mailparser is not installed (npm ci --prefix {FOLDER})"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the mail-parser tests must run)")
        pytest.skip(message)
    result = subprocess.run(
        [node, str(FOLDER / "parse.mjs")], input=raw, capture_output=True, timeout=60, check=True
    )
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed
