"""What a bounce message says, in our words: the kind, whom, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class BounceKind(StrEnum):
    HARD = "hard"  # the address does not exist (any more): suppress at once
    SOFT = "soft"  # failed for now or for another reason (full, policy, spam): count
    COMPLAINT = "complaint"  # the reader reported us (ARF abuse, opt-out): suppress at once
    UNKNOWN = "unknown"  # not a bounce we can read (auto-reply, other report): kept, counted


@dataclass(frozen=True)
class Finding:
    """One report's reading: the kind, the failed recipient if named, status and detail."""

    kind: BounceKind
    recipient: str | None = None
    status: str = ""  # enhanced status code ("5.1.1") or feedback type ("abuse")
    detail: str = ""


@dataclass(frozen=True)
class Bounce:
    """A bounce or complaint message as we read it."""

    message_id: str  # the bounce's own id: it is applied once per id
    finding: Finding
    format: str  # "dsn" | "arf" | "text" | "none"
    verp_candidates: tuple[str, ...] = field(default=())  # addresses that may be our VERP

    @property
    def kind(self) -> BounceKind:
        return self.finding.kind
