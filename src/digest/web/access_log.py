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


def redact_tokens(text: str) -> str:
    """`/unsubscribe/<token>` -> `/unsubscribe/[redacted]`; the same for confirm, preferences
    and data."""
    return TOKEN_PATH.sub(r"/\1/[redacted]", text)


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


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the filter on the access log's handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    config["handlers"]["access"].setdefault("filters", []).append("redact_tokens")
    return config
