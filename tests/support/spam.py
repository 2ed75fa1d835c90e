"""Score a raw message with SpamAssassin (Debian's `spamassassin`, its shipped rules, offline).

`make test` installs it (scripts/ensure-test-deps.sh); without it the tests are skipped,
except under CI=true, where they fail.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Verdict:
    score: float
    rules: frozenset[str]


def spamassassin(raw: bytes, home: Path) -> Verdict:
    """SpamAssassin's score and the rules that hit: local tests only (-L), no Bayes learning,
    nothing written outside `home`."""
    program = shutil.which("spamassassin")
    if program is None:
        message = "spamassassin is not installed (apt-get install spamassassin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the spam-score tests must run)")
        pytest.skip(message)
    command = [program, "-L", "-x", "--cf=use_bayes 0", "--cf=bayes_auto_learn 0"]
    environment = {**os.environ, "HOME": str(home)}
    result = subprocess.run(
        command, input=raw, capture_output=True, timeout=120, check=True, env=environment
    )
    checked = email.message_from_bytes(result.stdout, policy=email.policy.default)
    status = " ".join(str(checked["X-Spam-Status"] or "").split())
    found = re.search(r"score=(-?[\d.]+) .*?tests=(.*?)(?: autolearn=| version=|$)", status)
    assert found is not None, f"no X-Spam-Status in SpamAssassin's answer: {status!r}"
    rules = found[2].replace(" ", "").split(",")
    return Verdict(float(found[1]), frozenset(rule for rule in rules if rule and rule != "none"))
