"""Point a frozen body's links at `/r/{token}`: once per issue copy, before the per-recipient
fill. Pure text work: no store, no clock.

Only the links in `targets` (the issue's comparisons) are rewritten, and only where they are a
whole `href` value (HTML) or a whole word (text). Unsubscribe, preferences and "view in browser"
links are never in `targets`, so they stay as they are. The HTML part also gets the hidden
canary link (and, with DIGEST_TRACK_OPENS=on, the pixel) right after `<body>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

from digest.render.engine import marker

TAG = marker("click_tag")
# Hidden from people in every client we know (no text, no size, not focusable, not announced).
CANARY_STYLE = "display:none;font-size:0;line-height:0;max-height:0;overflow:hidden;mso-hide:all"
_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)


def tracked(url: str) -> str:
    """A tracked link as it goes into a body: the recipient's tag is filled in later."""
    return f"{url}?t={TAG}"


def rewrite_html(
    html: str, targets: Mapping[str, str], *, canary: str, pixel: str | None = None
) -> str:
    """`targets` maps each original URL to its `/r/{token}` URL."""
    for original, url in targets.items():
        html = html.replace(f'href="{escape(original)}"', f'href="{escape(tracked(url))}"')
    hidden = (
        f'<a href="{escape(tracked(canary))}" style="{CANARY_STYLE}" aria-hidden="true" '
        'tabindex="-1"></a>'
    )
    if pixel is not None:
        hidden += (
            f'<img src="{escape(tracked(pixel))}" width="1" height="1" alt="" '
            'style="display:block;width:1px;height:1px;border:0">'
        )
    found = _BODY.search(html)
    at = found.end() if found else 0
    return html[:at] + hidden + html[at:]


def rewrite_text(text: str, targets: Mapping[str, str]) -> str:
    for original, url in targets.items():
        whole_word = re.compile(r"(?<!\S)" + re.escape(original) + r"(?!\S)")
        text = whole_word.sub(lambda _m, url=url: tracked(url), text)  # type: ignore[misc]
    return text
