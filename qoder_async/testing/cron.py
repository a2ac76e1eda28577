"""Standard 5-field cron expressions and their next fire times in UTC.

``minute hour day-of-month month day-of-week``, each field built from ``*``, numbers,
ranges (``1-5``), steps (``*/15``, ``0-30/10``, ``5/20``) and comma lists; months accept
``jan``..``dec`` and days of week ``sun``..``sat`` (``0`` and ``7`` are both Sunday).
Day matching follows the classic Vixie rule: when both day fields are restricted (neither
starts with ``*``) a day matches if *either* matches; otherwise both must match.

Fire times are wall-clock times in an IANA zone converted to UTC. Across daylight-saving
changes a wall time that does not exist (the spring-forward gap) does not fire, and a
wall time that occurs twice (fall-back) fires once, at its first occurrence.

>>> [t.isoformat() for t in next_fire_times("0 9 * * *", "Asia/Shanghai",
...     after=datetime(2026, 6, 14, 8, 53, tzinfo=UTC), count=2)]
['2026-06-15T01:00:00+00:00', '2026-06-16T01:00:00+00:00']
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CronError",
    "CronExpression",
    "load_timezone",
    "next_fire_times",
    "parse_cron",
]

_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_DOW_NAMES = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
# (name, lowest, highest, names accepted in place of numbers)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTH_NAMES),
    ("day of week", 0, 7, _DOW_NAMES),
)
# A schedule that has not fired within this many years is treated as never firing
# (``0 0 30 2 *``); 28 years covers every leap-year/weekday combination.
_HORIZON_YEARS = 28


class CronError(ValueError):
    """The cron expression or the timezone is not valid."""


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed cron expression: the set of allowed values of each field."""

    source: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: tuple[int, ...]
    days_of_week: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    dom_restricted: bool
    dow_restricted: bool

    def matches_day(self, year: int, month: int, day: int) -> bool:
        """Whether the calendar day is a firing day (the dom/dow OR rule)."""
        dom_ok = day in self.days_of_month
        # Python: Monday == 0; cron: Sunday == 0.
        dow_ok = (calendar.weekday(year, month, day) + 1) % 7 in self.days_of_week
        if self.dom_restricted and self.dow_restricted:
            return dom_ok or dow_ok
        return dom_ok and dow_ok

    def next_fire_times(self, zone: ZoneInfo, *, after: datetime, count: int = 5) -> list[datetime]:
        """The first ``count`` fire times strictly after ``after``, as aware UTC datetimes.

        Fewer are returned when the expression does not fire within the search horizon.
        """
        if after.tzinfo is None:
            raise ValueError("after must be timezone-aware")
        result: list[datetime] = []
        if count <= 0:
            return result
        start = after.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
        for year in range(start.year, start.year + _HORIZON_YEARS + 1):
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                first_day = start.day if (year, month) == (start.year, start.month) else 1
                for day in range(first_day, calendar.monthrange(year, month)[1] + 1):
                    if not self.matches_day(year, month, day):
                        continue
                    for hour in self.hours:
                        for minute in self.minutes:
                            wall = datetime(year, month, day, hour, minute)
                            if wall < start:
                                continue
                            when = _wall_to_utc(wall, zone)
                            if when is None or when <= after:
                                continue
                            result.append(when)
                            if len(result) == count:
                                return result
        return result


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """UTC instant of a local wall time (first occurrence), or None if it does not exist."""
    when = wall.replace(tzinfo=zone).astimezone(UTC)
    # A wall time inside a spring-forward gap does not survive the round trip.
    if when.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return when


def _parse_value(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not text.isdigit() or not text.isascii():
        raise CronError(f"invalid {field} value {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field} value {value} out of range {low}-{high}")
    return value


def _parse_field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"empty list item in {field} field {text!r}")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not step_text.isascii() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r} in {field} field")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first = _parse_value(first_text, field, low, high, names)
            last = _parse_value(last_text, field, low, high, names)
            if names is _DOW_NAMES and last_text.lower() == "sun":
                last = 7  # "sat-sun" / "fri-sun": Sunday as the end of the week
            if first > last:
                raise CronError(f"reversed range {base!r} in {field} field")
        else:
            first = _parse_value(base, field, low, high, names)
            # ``5/20`` means "from 5 to the end, every 20" (as in Vixie and croniter).
            last = high if slash else first
        values.update(range(first, last + 1, step))
    return values


@lru_cache(maxsize=1024)
def parse_cron(expression: str) -> CronExpression:
    """Parse a 5-field cron expression.

    Raises:
        CronError: the expression is malformed or a value is out of range.
    """
    if not isinstance(expression, str):
        raise CronError("cron expression must be a string")
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(f"cron expression must have 5 fields, got {len(parts)}")
    sets = [
        _parse_field(text, name, low, high, names)
        for text, (name, low, high, names) in zip(parts, _FIELDS, strict=True)
    ]
    days_of_week = frozenset(value % 7 for value in sets[4])
    return CronExpression(
        source=expression,
        minutes=tuple(sorted(sets[0])),
        hours=tuple(sorted(sets[1])),
        days_of_month=frozenset(sets[2]),
        months=tuple(sorted(sets[3])),
        days_of_week=days_of_week,
        # Vixie cron treats a day field as unrestricted only when it starts with "*".
        dom_restricted=not parts[2].startswith("*"),
        dow_restricted=not parts[4].startswith("*"),
    )


def load_timezone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``.

    Raises:
        CronError: no such zone (or not a zone name at all).
    """
    if not isinstance(name, str) or not name or name != name.strip():
        raise CronError(f"unknown timezone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise CronError(f"unknown timezone {name!r}") from exc


def next_fire_times(
    expression: str, timezone: str, *, after: datetime, count: int = 5
) -> list[datetime]:
    """The next ``count`` fire times of ``expression`` in ``timezone``, strictly after ``after``.

    Raises:
        CronError: invalid expression or timezone.
    """
    return parse_cron(expression).next_fire_times(load_timezone(timezone), after=after, count=count)


@lru_cache(maxsize=4096)
def _cached_upcoming(expression: str, timezone: str, minute: int, count: int) -> tuple[str, ...]:
    after = datetime.fromtimestamp(minute * 60, UTC) + timedelta(seconds=59)
    times = next_fire_times(expression, timezone, after=after, count=count)
    return tuple(t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times)


def upcoming_runs(expression: str, timezone: str, now: float, count: int = 5) -> list[str]:
    """Next fire times after the POSIX time ``now`` as ``YYYY-MM-DDTHH:MM:SSZ`` strings.

    Cached per minute: cron has minute resolution, so every ``now`` within one minute has
    the same answer, which keeps seeding thousands of deployments cheap.
    """
    return list(_cached_upcoming(expression, timezone, int(now // 60), count))
