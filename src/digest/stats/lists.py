"""The list's size: readers by status, in one GROUP BY."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from digest.models import Subscriber, SubscriberStatus


@dataclass(frozen=True)
class ListHealth:
    confirmed: int
    pending: int
    unsubscribed: int
    suppressed: int  # bounced, complained or suppressed by an editor: not mailed
    erased: int

    @property
    def total(self) -> int:
        return self.confirmed + self.pending + self.unsubscribed + self.suppressed + self.erased

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def status_counts(session: Session) -> dict[SubscriberStatus, int]:
    """Readers per status, every status present (zero when none)."""
    query = select(Subscriber.status, func.count()).group_by(col(Subscriber.status))
    counts = dict.fromkeys(SubscriberStatus, 0)
    counts.update({SubscriberStatus(status): int(n) for status, n in session.exec(query).all()})
    return counts


def list_health(session: Session) -> ListHealth:
    counts = status_counts(session)
    return ListHealth(
        confirmed=counts[SubscriberStatus.CONFIRMED],
        pending=counts[SubscriberStatus.PENDING],
        unsubscribed=counts[SubscriberStatus.UNSUBSCRIBED],
        suppressed=counts[SubscriberStatus.BOUNCED]
        + counts[SubscriberStatus.COMPLAINED]
        + counts[SubscriberStatus.SUPPRESSED],
        erased=counts[SubscriberStatus.ERASED],
    )
