"""Link tokens never reach the access log of `digest serve`."""

from __future__ import annotations

import logging
import logging.config

import pytest

from digest.web.access_log import RedactTokens, log_config, redact_tokens


@pytest.mark.parametrize("kind", ["confirm", "unsubscribe", "preferences"])
def test_redact_tokens(kind: str) -> None:
    line = f'127.0.0.1:5 - "POST /{kind}/WzEsMF0.abc-_x?y=1 HTTP/1.1" 200'
    assert redact_tokens(line) == f'127.0.0.1:5 - "POST /{kind}/[redacted]?y=1 HTTP/1.1" 200'
    assert redact_tokens("GET /issues/3") == "GET /issues/3"
    assert redact_tokens("GET /preferences") == "GET /preferences"


def test_filter_rewrites_uvicorn_access_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/unsubscribe/WzEsMF0.secret", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record) is True
    assert "secret" not in record.getMessage() and "/unsubscribe/[redacted]" in record.getMessage()


def test_serve_log_config_puts_the_filter_on_the_access_handler() -> None:
    config = log_config()
    logging.config.dictConfig(config)
    handler = next(h for h in logging.getLogger("uvicorn.access").handlers)
    assert any(isinstance(f, RedactTokens) for f in handler.filters)


def test_a_tracked_link_loses_token_and_tag() -> None:
    line = '10.0.0.7:5 - "GET /r/WzEsMl0.abc?t=1f-AbCdEf HTTP/1.1" 302'
    assert redact_tokens(line) == '10.0.0.7:5 - "GET /r/[redacted] HTTP/1.1" 302'
