"""Bodies that break naive parsers: absurd nesting, a 5000-digit number."""

from __future__ import annotations

NASTY_JSON = [b"[" * 3000, b'{"email": ' + b"1" * 5000 + b"}", b"{" + b'"a":{' * 3000]
