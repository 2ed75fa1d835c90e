"""Keep never-expiring link tokens out of the access log.

Unsubscribe and preference tokens never expire, and whoever holds one can read or erase that
reader's data; uvicorn's access log would otherwise keep every one of them in plain text.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

TOKEN_PATH = re.compile(r"/(confirm|unsubscribe|preferences|data)/[^/?#\s\"]+")
# A tracked link's tag is a per-delivery hash: next to the client's address in a log line it
# would say who clicked, which the click store itself never keeps. Token and query both go.
TRACKED_PATH = re.compile(r"/r/[^\s\"]+")


def redact_tokens(text: str) -> str:
    """`/unsubscribe/<token>` -> `/unsubscribe/[redacted]`; the same for confirm, preferences
    and data; a tracked link `/r/<token>?t=<tag>` loses both."""
    return TRACKED_PATH.sub("/r/[redacted]", TOKEN_PATH.sub(r"/\1/[redacted]", text))


class RedactTokens(logging.Filter):
    """A logging filter that rewrites the message and its string arguments; it drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def log_config(*, with_pid: bool = False) -> dict[str, Any]:
    """uvicorn's logging configuration with the filter on the access log's handler; with
    several worker processes, each line also names the process (`[pid]`)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    if with_pid:
        for formatter in config["formatters"].values():
            formatter["fmt"] = formatter["fmt"].replace(
                "%(levelprefix)s", "%(levelprefix)s [%(process)d]"
            )
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    config["handlers"]["access"].setdefault("filters", []).append("redact_tokens")
    return config
