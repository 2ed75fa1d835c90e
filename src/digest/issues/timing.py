"""When issues go out: DIGEST_SEND_SCHEDULE ("mon 08:00") in DIGEST_TIMEZONE, read once here.

The scheduler (schedule.py) triggers on it; the front page says it in words ("every Monday,
08:00 Europe/Berlin"); a welcome email is skipped when the next issue is that close anyway.
Times are wall-clock times in the newsletter's zone, so they stay right across DST changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.config import Settings
from digest.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SCHEDULE = re.compile(r"^\s*([a-z]+)\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class WeeklyTime:
    day: str  # "mon" .. "sun"
    at: time

    @property
    def weekday(self) -> int:
        return DAYS.index(self.day)


def parse_schedule(text: str) -> WeeklyTime:
    """`"mon 08:00"` (also "Monday 8:00"); ConfigError says what is wrong."""
    example = "write a day name and a 24-hour time, e.g. mon 08:00"
    match = _SCHEDULE.match(text or "")
    word = match.group(1).lower() if match else ""
    if word not in DAYS and word not in FULL_DAYS:
        raise ConfigError(f"DIGEST_SEND_SCHEDULE={text!r}: {example}")
    assert match is not None
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ConfigError(f"DIGEST_SEND_SCHEDULE={text!r}: no such time; {example}")
    return WeeklyTime(word[:3], time(hour, minute))


def last_run_time(weekly: WeeklyTime, tz: ZoneInfo, *, now: datetime) -> datetime:
    """The latest scheduled instant at or before `now` (wall-clock time in `tz`, so DST-safe)."""
    local_today = now.astimezone(tz).date()
    for back in range(8):
        day = local_today - timedelta(days=back)
        if day.weekday() != weekly.weekday:
            continue
        candidate = datetime.combine(day, weekly.at, tzinfo=tz).astimezone(UTC)
        if candidate <= now:
            return candidate
    raise AssertionError("a weekly time occurs within any 8 days")


def next_run_time(weekly: WeeklyTime, tz: ZoneInfo, *, now: datetime) -> datetime:
    """The first scheduled instant after `now`."""
    local_today = now.astimezone(tz).date()
    for ahead in range(8):
        day = local_today + timedelta(days=ahead)
        if day.weekday() == weekly.weekday:
            candidate = datetime.combine(day, weekly.at, tzinfo=tz).astimezone(UTC)
            if candidate > now:
                return candidate
    raise AssertionError("a weekly time occurs within any 8 days")


def next_issue_at(settings: Settings, *, now: datetime) -> datetime | None:
    """When the scheduler sends the next weekly issue; None if DIGEST_SEND_SCHEDULE is unusable
    (the scheduler refuses to start on it; pages and mail just say less)."""
    try:
        weekly = parse_schedule(settings.send_schedule)
    except ConfigError:
        return None
    return next_run_time(weekly, settings.tz, now=now)


def describe_schedule(settings: Settings) -> str:
    """ "every Monday, 08:00 Europe/Berlin" ("every week" if the schedule is unusable)."""
    try:
        weekly = parse_schedule(settings.send_schedule)
    except ConfigError:
        return "every week"
    return f"every {FULL_DAYS[weekly.weekday].capitalize()}, {weekly.at:%H:%M} {settings.timezone}"


def describe_moment(settings: Settings, moment: datetime | None) -> str:
    """ "Monday 23 November, 08:00 Europe/Berlin" ("soon" when unknown)."""
    if moment is None:
        return "soon"
    local = moment.astimezone(settings.tz)
    return f"{local:%A} {local.day} {local:%B}, {local:%H:%M} {settings.timezone}"
