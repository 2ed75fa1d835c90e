"""Jinja2 -> MJML -> HTML, once per message, plus a plain-text part from its own template.

`render_email("confirm", context)` renders `templates/email/confirm.mjml.j2` (autoescaped: content
is data, never template) and compiles it with mjml-python, and renders `confirm.txt.j2` for the
text part. The context must hold `subject`; `preheader` is optional.

Personal values never pass through here: templates write `personal("unsubscribe_url")` (or a
caller passes `personal(...)` as a value), which leaves a `marker` in the output for
`personal.CompiledBody.fill` to join per recipient.
Anything in the data that looks like a marker is defused, so content cannot forge one.

Template leftovers (`{{`, `{%`, `{#` that Jinja did not consume) are found while rendering:
every value a template prints passes `_finalize`, which notes those that contain such text, and
a match in the output that lies inside none of them is the templates' own. A week whose content
talks about `{{ templates }}` is never mistaken for a broken template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup, escape
from mjml import mjml2html

from digest.paths import EMAIL_TEMPLATES
from digest.render.wrap import break_long_words, drop_wrapping_css
from digest.text import strip_controls

# The personal fields a template may leave for the sender to fill per recipient. The greeting
# is a whole line ("Hi Ann,") or nothing: a name is personal, never compiled into shared MJML.
# `click_tag` is left by clicks/rewrite.py in the tracked links of sent copies, never by a
# template.
FIELDS = ("unsubscribe_url", "preferences_url", "greeting", "click_tag")
# Links only the confirmation and data-link emails carry (readers/mail_compose.py fills them):
# never in an issue or a welcome, so `lint` does not allow them there and `public_copy` (whose
# generic links cover FIELDS) never meets them.
LINK_FIELDS = ("confirm_url", "data_url")
MARKER_START = "[[digest:"
# A zero-width space after "[[" keeps look-alike text from ever matching the marker pattern.
DEFUSED_START = "[[\u200bdigest:"
_LEFTOVER = re.compile(r"\{[{%#]")
# The printed values (while a render is being checked) that contain template-like text.
_printed: ContextVar[list[str] | None] = ContextVar("digest_printed", default=None)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str
    # Template syntax our templates left in the output (never the content's), found when
    # rendering; a copy read back from the store was checked when it was rendered.
    leftovers: tuple[str, ...] = field(default=(), compare=False)


def marker(field: str) -> str:
    """The placeholder a template writes where `field` goes."""
    if field not in FIELDS and field not in LINK_FIELDS:
        raise ValueError(f"unknown personal field {field!r}")
    return f"{MARKER_START}{field}]]"


class PersonalField(str):
    """A marker written on purpose by a template; `_finalize` lets it through untouched."""

    __slots__ = ()


def personal(field: str) -> PersonalField:
    return PersonalField(marker(field))


def _finalize(value: Any) -> Any:
    if isinstance(value, PersonalField) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, Markup):
        # Swapping one plain-text run for another inside escaped markup keeps it escaped.
        return Markup(_noted(_defuse(str(value))))  # noqa: S704
    if isinstance(value, str):
        return _noted(_defuse(value))
    return value


def _noted(text: str) -> str:
    printed = _printed.get()
    if printed is not None and _LEFTOVER.search(text):
        printed.append(text)
    return text


@contextmanager
def _noting() -> Iterator[list[str]]:
    printed: list[str] = []
    token = _printed.set(printed)
    try:
        yield printed
    finally:
        _printed.reset(token)


def render_checked(template: Template, context: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Render `template`, and say what it left of its own syntax (`find_leftovers`)."""
    with _noting() as printed:
        rendered = template.render(context)
    return rendered, find_leftovers(rendered, printed)


def find_leftovers(rendered: str, printed: Iterable[str]) -> tuple[str, ...]:
    """Each `{{`, `{%` or `{#` in `rendered` that lies inside none of the `printed` values (as
    printed, or HTML-escaped), with a little context: what the templates themselves left."""
    spans = []
    for text in {form for value in printed for form in (value, str(escape(value)))}:
        start = rendered.find(text)
        while start != -1:
            spans.append((start, start + len(text)))
            start = rendered.find(text, start + 1)
    return tuple(
        rendered[max(0, m.start() - 20) : m.end() + 20].replace("\n", " ")
        for m in _LEFTOVER.finditer(rendered)
        if not any(begin <= m.start() and m.end() <= end for begin, end in spans)
    )


def _defuse(text: str) -> str:
    # Backstop: inputs refuse or strip control characters, but one slipping through must not
    # make the MJML compiler fail and block a whole issue.
    return strip_controls(text.replace(MARKER_START, DEFUSED_START))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """One environment: `*.mjml.j2` autoescaped, `*.txt.j2` not (plain text has no markup)."""
    env = Environment(
        loader=FileSystemLoader(str(EMAIL_TEMPLATES)),
        autoescape=select_autoescape(
            enabled_extensions=("mjml.j2", "html.j2"),
            disabled_extensions=("txt.j2",),
            default=True,
        ),
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["personal"] = personal
    return env


def render_mjml(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(f"{template}.mjml.j2").render(context)


def render_text(template: str, context: dict[str, Any]) -> str:
    text = environment().get_template(f"{template}.txt.j2").render(context)
    return text.strip() + "\n"


# mjml wraps the body in <div role="article" aria-roledescription="email">. An email shown on
# its own (webmail's reading pane, "view in browser") is the page's main content: as the main
# landmark, screen readers can jump to it and nothing is left outside a landmark.
_WRAPPER_ROLE = 'aria-roledescription="email" role="article"'
_MAIN_ROLE = 'aria-roledescription="email" role="main"'


def compile_mjml(source: str) -> str:
    """MJML to HTML; `fonts={}` keeps mjml from linking its default remote web fonts. Long
    words get break opportunities instead of CSS most clients ignore (wrap.py)."""
    html = break_long_words(drop_wrapping_css(str(mjml2html(source, fonts={}))))
    return html.replace(_WRAPPER_ROLE, _MAIN_ROLE, 1)


def render_email(template: str, context: dict[str, Any]) -> RenderedEmail:
    """Render one email from templates/email/{template}.mjml.j2 and .txt.j2."""
    if "subject" not in context:
        raise ValueError(f"render_email({template!r}) needs a 'subject' in its context")
    env = environment()
    mjml, html_leftovers = render_checked(env.get_template(f"{template}.mjml.j2"), context)
    text, text_leftovers = render_checked(env.get_template(f"{template}.txt.j2"), context)
    return RenderedEmail(
        subject=str(context["subject"]),
        preheader=str(context.get("preheader", "")),
        html=compile_mjml(mjml),
        text=text.strip() + "\n",
        leftovers=html_leftovers + text_leftovers,
    )
