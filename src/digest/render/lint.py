"""Checks on a rendered (frozen-form) email before anyone receives it.

The body still holds the personal markers; they are the only placeholders allowed, and the
unsubscribe marker must be in both parts (it becomes each reader's one-click link).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.render.engine import FIELDS, RenderedEmail, marker

# Gmail clips messages over about 102 KB and hides the rest, footer and unsubscribe link included.
SIZE_BUDGET = 100_000
SUBJECT_BUDGET = 70
_LINK = re.compile(r"""\b(?:href|src)\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
# Template syntax that survived rendering: a variable, a tag, a marker, or an uncompiled MJML tag.
_LEFTOVERS = re.compile(
    r"\{\{\s*[\w.]+\s*\}\}|\{%-?\s*(?:if|for|end\w+|set|block|macro|raw)\b"
    r"|\[\[digest:\w+\]\]|</?mj-[a-z]"
)
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
    for part, body in (("subject", email.subject), ("HTML", email.html), ("text", email.text)):
        for allowed in _ALLOWED:
            body = body.replace(allowed, "")
        found = _LEFTOVERS.search(body)
        if found:
            context = body[max(0, found.start() - 30) : found.end() + 30].replace("\n", " ")
            return LintCheck("placeholders", False, f"{part} has {found.group()!r} in …{context}…")
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
