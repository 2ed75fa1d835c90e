"""The weekly issue: claim its period, compose it, fit and freeze it, preview it.

    compose.py  Composition, period_of; claim/list/get the issue rows; the draft's overrides;
                which comparisons the next issue carries; the latest published issue; the
                week and scheduled run the next issue is claimed for
    freeze.py   fit_issue (demote cards until the email fits) and freeze_issue (store it once)
    preview.py  the next issue before freezing (Preview), and an issue's frozen copy
    plan.py     next_issue: what goes out next, and when (NextIssue), the one answer every
                edge prints; next_issue_at, the same instant as readers are told it
    variants.py one frozen copy per topic set: select, render, freeze once, read back
    timing.py   the schedule ("mon 08:00") as arithmetic: parse_schedule, last/next run time,
                and in words (describe_schedule, describe_moment)

Rule: this is the layer that reads the store *and* renders; `render/` below it stays pure.
Uniqueness of period and number lives in the database, never in memory.
"""

from digest.issues.compose import (
    FROZEN,
    Composition,
    claim_issue,
    compose_issue,
    find_draft,
    get_published,
    latest_published,
    list_issues,
    list_published,
    period_of,
    set_overrides,
)
from digest.issues.freeze import fit_issue, freeze_issue
from digest.issues.plan import NextIssue, next_issue, next_issue_at, upcoming_issue
from digest.issues.preview import Preview, frozen_email, preview_next_issue, write_preview
from digest.issues.timing import describe_moment, describe_schedule
from digest.issues.variants import (
    TopicSet,
    carried_composition,
    freeze_variants,
    topic_key,
    variants_of,
    week_topics,
)

__all__ = [
    "FROZEN",
    "Composition",
    "NextIssue",
    "Preview",
    "TopicSet",
    "carried_composition",
    "claim_issue",
    "compose_issue",
    "describe_moment",
    "describe_schedule",
    "find_draft",
    "fit_issue",
    "freeze_issue",
    "freeze_variants",
    "frozen_email",
    "get_published",
    "latest_published",
    "list_issues",
    "list_published",
    "next_issue",
    "next_issue_at",
    "period_of",
    "preview_next_issue",
    "set_overrides",
    "topic_key",
    "upcoming_issue",
    "variants_of",
    "week_topics",
    "write_preview",
]
