"""Who gets which copy of an issue, as SQL over a range of readers: decided once, at enqueue.

A reader who took every topic (no `subscriber_topic` rows) gets the issue's own copy. A reader
who chose topics gets the variant of those of their topics the week has something in (rendered
once per distinct set by `issues.freeze_variants`); a reader whose topics have nothing this week
gets nothing, and the ledger says why.

A reader's topics with news are summed into a bit mask in the database (one bit per topic the
week carries), so a million readers are sorted into copies without leaving the database: Python
only sees the distinct masks and how many readers each has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

from digest.models import SubscriberStatus

NOTHING_IN_TOPICS = "nothing this week in the reader's topics"
# A mask is a signed 64-bit integer on both engines; an issue carries far fewer topics.
MAX_WEEK_TOPICS = 62


@dataclass(frozen=True)
class WeekTopics:
    """The topics a frozen issue carries something in, each with its bit in a reader's mask."""

    ids: tuple[int, ...]  # sorted; topic ids[n] is bit n

    @classmethod
    def of(cls, topic_ids: Iterable[int]) -> WeekTopics:
        ids = tuple(sorted(set(topic_ids)))
        if len(ids) > MAX_WEEK_TOPICS:
            raise ValueError(f"an issue carries {len(ids)} topics; at most {MAX_WEEK_TOPICS}")
        return cls(ids)

    def topics(self, mask: int) -> frozenset[int]:
        return frozenset(topic for bit, topic in enumerate(self.ids) if mask >> bit & 1)

    def mask_sql(self) -> str:
        """Each reader's mask, for readers with ids in (:lo, :hi] who chose topics."""
        if self.ids:
            cases = " ".join(f"WHEN {int(t)} THEN {1 << bit}" for bit, t in enumerate(self.ids))
            bits = f"CASE topic_id {cases} ELSE 0 END"
        else:
            bits = "0"
        return (
            f"SELECT subscriber_id, SUM({bits}) AS mask FROM subscriber_topic "
            "WHERE subscriber_id > :lo AND subscriber_id <= :hi GROUP BY subscriber_id"
        )


def readers_sql(week: WeekTopics) -> str:
    """Confirmed readers with an address and ids in (:lo, :hi], each with their mask (NULL:
    every topic, the issue's own copy)."""
    return (
        "SELECT s.id AS id, s.name AS name, m.mask AS mask FROM subscriber s "
        f"LEFT JOIN ({week.mask_sql()}) m ON m.subscriber_id = s.id "
        "WHERE s.id > :lo AND s.id <= :hi "
        f"AND s.status = '{SubscriberStatus.CONFIRMED.value}' AND s.email IS NOT NULL"
    )


def survey(session: Session, week: WeekTopics, *, lo: int, hi: int) -> dict[int | None, int]:
    """How many readers in (lo, hi] have each mask (None: every topic)."""
    query = f"SELECT r.mask, COUNT(*) FROM ({readers_sql(week)}) r GROUP BY r.mask"
    rows = session.connection().execute(text(query), {"lo": lo, "hi": hi}).all()
    return {None if mask is None else int(mask): int(count) for mask, count in rows}


def copy_sql(copies: dict[int, int]) -> str:
    """The variant of a reader's mask `r.mask` (NULL: the issue's own copy)."""
    if not copies:
        return "NULL"
    cases = " ".join(f"WHEN {int(mask)} THEN {int(v)}" for mask, v in sorted(copies.items()))
    return f"CASE r.mask {cases} END"


def sendable_sql(copies: dict[int, int]) -> str:
    """Whether reader `r` gets a copy: every topic, or a mask with a variant."""
    if not copies:
        return "r.mask IS NULL"
    masks = ", ".join(str(int(mask)) for mask in sorted(copies))
    return f"(r.mask IS NULL OR r.mask IN ({masks}))"
