"""The CSS an email uses, and the wrapping properties the big clients ignore.

caniemail: `overflow-wrap`, `word-wrap`, `white-space` and `hyphens` are not supported in Gmail,
Outlook and Yahoo; `word-break` not in Yahoo (and its `break-word` value is deprecated).
"""

from __future__ import annotations

import re

WRAPPING_CSS = re.compile(r"(?<![-\w])(overflow-wrap|word-wrap|word-break|white-space|hyphens)\s*:")


def styles_of(html: str) -> str:
    """Every style attribute and style element of `html`, one per line."""
    attributes = re.findall(r'style="([^"]*)"', html)
    elements = re.findall(r"<style\b[^>]*>(.*?)</style>", html, re.DOTALL)
    return "\n".join(attributes + elements)
