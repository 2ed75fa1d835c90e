"""When the weekly issue goes out: the schedule ("mon 08:00" in DIGEST_TIMEZONE) as arithmetic.

Pure functions of the schedule, the zone and `now`; `schedule.py` (APScheduler wiring) and
`plan.py` (what goes out next, and when) both use them, and pages and the welcome email say
them in words ("every Monday, 08:00 Europe/Berlin"). Times are wall-clock in the zone, so a
run stays at 08:00 local across DST changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
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


def week_start(moment: datetime, tz: ZoneInfo) -> date:
    """The Monday of the ISO week `moment` falls in, in `tz`."""
    local = moment.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def run_in_week(weekly: WeeklyTime, tz: ZoneInfo, monday: date) -> datetime:
    """The scheduled instant (UTC) in the ISO week that starts on `monday`."""
    day = monday + timedelta(days=weekly.weekday)
    return datetime.combine(day, weekly.at, tzinfo=tz).astimezone(UTC)


def next_run_time(weekly: WeeklyTime, tz: ZoneInfo, *, now: datetime) -> datetime:
    """The first scheduled instant after `now`."""
    monday = week_start(now, tz)
    this_week = run_in_week(weekly, tz, monday)
    return this_week if this_week > now else run_in_week(weekly, tz, monday + timedelta(weeks=1))


def describe_schedule(settings: Settings) -> str:
    """ "every Monday, 08:00 Europe/Berlin" ("every week" if the schedule is unusable: the
    scheduler refuses it, pages and mail just say less)."""
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
