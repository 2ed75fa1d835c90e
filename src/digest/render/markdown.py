"""The editor's note as Markdown, a safe subset: paragraphs, line breaks, *emphasis*,
**strong** and [links](https://...). Everything else stays literal text.

`check_markdown` is what saving a note runs: raw HTML and links that are not http(s) or mailto
are refused with a message saying which. Rendering never trusts that check ran (an older note,
a row written by hand): HTML is escaped and other links stay text, whatever the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

SAFE_SCHEMES = ("https://", "http://", "mailto:")
RULES = ["newline", "escape", "emphasis", "link"]
PARAGRAPH_STYLE = "margin:0 0 8px"
LINK_STYLE = "color:#1d4ed8;text-decoration:underline"


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(SAFE_SCHEMES)


def _renderer() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "breaks": True}).enable(RULES)
    md.validateLink = _safe_link  # type: ignore[method-assign]
    md.add_render_rule("paragraph_open", _paragraph_open)
    md.add_render_rule("link_open", _link_open)
    return md


def _any_link(url: str) -> bool:
    return True


def _checker() -> MarkdownIt:
    """Parses what the renderer would drop (raw HTML, any link) so the editor hears about it."""
    md = MarkdownIt("zero", {"html": True}).enable([*RULES, "html_inline", "html_block"])
    md.validateLink = _any_link  # type: ignore[method-assign]
    return md


def _paragraph_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return f'<p style="{PARAGRAPH_STYLE}">'


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("style", LINK_STYLE)
    rendered: str = self.renderToken(tokens, idx, options, env)
    return rendered


_RENDERER = _renderer()
_CHECKER = _checker()


def check_markdown(source: str) -> list[str]:
    """What the note may not contain, one message each: raw HTML, unsafe links."""
    problems = []
    for token in _walk(_CHECKER.parse(source)):
        if token.type in ("html_inline", "html_block"):
            shown = token.content.strip()[:40]
            problems.append(f"raw HTML is not allowed ({shown!r}); write Markdown instead")
        elif token.type == "link_open" and not _safe_link(str(token.attrGet("href") or "")):
            shown = str(token.attrGet("href") or "")[:40]
            problems.append(f"links must start with https://, http:// or mailto: (not {shown!r})")
    return problems


def _walk(tokens: Sequence[Token]) -> list[Token]:
    found = []
    for token in tokens:
        found.append(token)
        found.extend(_walk(token.children or []))
    return found


def markdown_html(source: str) -> Markup:
    """The note as HTML paragraphs (escaped; only the safe subset becomes markup)."""
    return Markup(_RENDERER.render(source).strip())  # noqa: S704  (markdown-it escapes, html=False)


def markdown_text(source: str, *, marks: bool = True) -> str:
    """The note as plain text: paragraphs apart by a blank line, links as "label (url)".
    `marks` keeps *emphasis* visible; without it (the preheader) only the words remain."""
    paragraphs = []
    for token in _RENDERER.parse(source):
        if token.type == "inline":
            paragraphs.append("".join(_inline_text(token.children or [], marks=marks)))
    return "\n\n".join(paragraphs)


def _inline_text(children: Sequence[Token], *, marks: bool) -> list[str]:
    parts: list[str] = []
    href = None
    for token in children:
        if token.type == "link_open":
            href, start = str(token.attrGet("href") or ""), len(parts)
        elif token.type == "link_close" and href is not None:
            label = "".join(parts[start:])
            parts.append("" if label in (href, href.removeprefix("mailto:")) else f" ({href})")
            href = None
        elif token.type in ("em_open", "em_close"):
            parts.append("*" if marks else "")
        elif token.type in ("strong_open", "strong_close"):
            parts.append("**" if marks else "")
        elif token.type in ("softbreak", "hardbreak"):
            parts.append("\n" if marks else " ")
        else:
            parts.append(token.content)
    return parts
