"""Checks on a rendered (frozen-form) email before anyone receives it.

The body still holds the personal markers; they are the only placeholders allowed, and the
unsubscribe marker must be in both parts (it becomes each reader's one-click link). Template
leftovers are those the renderer found in our templates' output (`RenderedEmail.leftovers`),
never text of the content: a week about `{{ jinja }}` or `{% raw %}` passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.render.engine import FIELDS, RenderedEmail, marker

# Gmail clips messages over about 102 KB and hides the rest, footer and unsubscribe link included.
SIZE_BUDGET = 100_000
SUBJECT_BUDGET = 70
_LINK = re.compile(r"""\b(?:href|src)\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
# What only a template can leave: a personal marker nobody defined (content's are defused), and
# in the HTML an uncompiled MJML tag (content is escaped there: `&lt;mj-`).
_UNKNOWN_MARKER = re.compile(r"\[\[digest:\w+\]\]")
_MJML_TAG = re.compile(r"</?mj-[a-z]")
_ALLOWED = tuple(marker(field) for field in FIELDS)


@dataclass(frozen=True)
class LintCheck:
    name: str
    ok: bool
    detail: str
    blocking: bool = True  # a failed blocking check means "do not send"


def lint_email(email: RenderedEmail) -> list[LintCheck]:
    return [
        check_size(email.html),
        check_links(email.html),
        check_placeholders(email),
        check_unsubscribe(email),
        check_subject(email.subject),
    ]


def passed(checks: list[LintCheck]) -> bool:
    return all(check.ok for check in checks if check.blocking)


def check_size(html: str) -> LintCheck:
    size = len(html.encode("utf-8"))
    detail = f"{size / 1000:.1f} KB of HTML (budget {SIZE_BUDGET // 1000} KB, Gmail clips at ~102)"
    return LintCheck("size", size <= SIZE_BUDGET, detail)


def check_links(html: str) -> LintCheck:
    links = [url.strip() for _quote, url in _LINK.findall(html)]
    bad = [url for url in links if not _absolute(url)]
    if bad:
        return LintCheck("links", False, f"{len(bad)} link(s) not absolute, e.g. {bad[0][:80]!r}")
    return LintCheck("links", True, f"all {len(links)} links are absolute")


def _absolute(url: str) -> bool:
    return url.startswith(("https://", "http://", "mailto:")) or url in _ALLOWED


def check_placeholders(email: RenderedEmail) -> LintCheck:
    if email.leftovers:
        detail = (
            f"a template left {len(email.leftovers)} placeholder(s), e.g. …{email.leftovers[0]}…"
        )
        return LintCheck("placeholders", False, detail)
    parts = (
        ("HTML", email.html, (_UNKNOWN_MARKER, _MJML_TAG)),
        ("text", email.text, (_UNKNOWN_MARKER,)),
    )
    for part, body, patterns in parts:
        for allowed in _ALLOWED:
            body = body.replace(allowed, "")
        for pattern in patterns:
            found = pattern.search(body)
            if found:
                context = body[max(0, found.start() - 30) : found.end() + 30].replace("\n", " ")
                detail = f"{part} has {found.group()!r} in …{context}…"
                return LintCheck("placeholders", False, detail)
    return LintCheck("placeholders", True, "no template leftovers; only the personal markers")


def check_unsubscribe(email: RenderedEmail) -> LintCheck:
    wanted = marker("unsubscribe_url")
    missing = [
        part
        for part, ok in (("HTML", f'href="{wanted}"' in email.html), ("text", wanted in email.text))
        if not ok
    ]
    if missing:
        return LintCheck("unsubscribe", False, f"no unsubscribe link in the {' or '.join(missing)}")
    return LintCheck("unsubscribe", True, "unsubscribe link in both parts")


def check_subject(subject: str) -> LintCheck:
    detail = f"{len(subject)} characters"
    if not subject.strip():
        return LintCheck("subject", False, "the subject is empty")
    if len(subject) > SUBJECT_BUDGET:
        return LintCheck("subject", False, f"{detail}; inboxes cut after ~{SUBJECT_BUDGET}", False)
    return LintCheck("subject", True, detail)
