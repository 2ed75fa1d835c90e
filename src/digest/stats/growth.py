"""The list's weekly movement: new confirmations, unsubscribes, bounces and complaints.

Weeks start on Monday 00:00 in DIGEST_TIMEZONE (the week the editor thinks in); the last one is
the week `now` is in, so far. Each measure is one query: the week a row falls in is a CASE over
the week boundaries, counted with GROUP BY, on an indexed time column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func
from sqlmodel import Session, col, select

from digest.models import DeliveryMark, Subscriber

WEEKS = 12


@dataclass(frozen=True)
class GrowthWeek:
    starts: date  # the Monday, in DIGEST_TIMEZONE
    confirmed: int
    unsubscribed: int
    bounced: int
    complained: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.starts.isoformat(),
            "confirmed": self.confirmed,
            "unsubscribed": self.unsubscribed,
            "bounced": self.bounced,
            "complained": self.complained,
        }


def week_starts(now: datetime, tz: ZoneInfo, weeks: int = WEEKS) -> list[datetime]:
    """The `weeks` Mondays (aware, in `tz`) up to now's week, and the Monday after it."""
    local = now.astimezone(tz)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), datetime.min.time())
    first = monday - timedelta(weeks=weeks - 1)
    # Each boundary is made in `tz` on its own date, so a week that crosses a DST change
    # is 167 or 169 hours long, as the editor's calendar says.
    return [(first + timedelta(weeks=n)).replace(tzinfo=tz) for n in range(weeks + 1)]


def growth_series(
    session: Session, *, now: datetime, tz: ZoneInfo, weeks: int = WEEKS
) -> list[GrowthWeek]:
    bounds = week_starts(now, tz, weeks)
    confirmed = _per_week(session, col(Subscriber.confirmed_at), bounds)
    unsubscribed = _per_week(session, col(Subscriber.unsubscribed_at), bounds)
    bounced = _per_week(session, col(DeliveryMark.at), bounds, col(DeliveryMark.event) == "bounced")
    complained = _per_week(
        session, col(DeliveryMark.at), bounds, col(DeliveryMark.event) == "complained"
    )
    return [
        GrowthWeek(
            starts=bounds[n].date(),
            confirmed=confirmed[n],
            unsubscribed=unsubscribed[n],
            bounced=bounced[n],
            complained=complained[n],
        )
        for n in range(weeks)
    ]


def _per_week(session: Session, moment: Any, bounds: list[datetime], *where: Any) -> list[int]:
    """How many rows have `moment` in each week [bounds[n], bounds[n + 1])."""
    edges = [bound.astimezone(ZoneInfo("UTC")) for bound in bounds]
    week = case(
        *[(and_(moment >= edges[n], moment < edges[n + 1]), n) for n in range(len(edges) - 1)]
    )
    query = (
        select(week, func.count())
        .where(moment >= edges[0], moment < edges[-1], *where)
        .group_by(week)
    )
    counts = [0] * (len(edges) - 1)
    for n, total in session.exec(query).all():
        counts[int(n)] = int(total)
    return counts
