"""Cron parsing and next fire times in UTC (the fake server's ``upcoming_runs_at``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qoder_async.testing import CronError, next_fire_times, parse_cron
from qoder_async.testing.cron import upcoming_runs

SUNDAY = datetime(2026, 6, 14, 8, 53, 32, tzinfo=UTC)  # creation time in deployment.json


def fires(
    expression: str, zone: str = "UTC", after: datetime = SUNDAY, count: int = 5
) -> list[str]:
    times = next_fire_times(expression, zone, after=after, count=count)
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times]


def test_daily_9am_shanghai_is_1am_utc() -> None:
    assert fires("0 9 * * *", "Asia/Shanghai") == [
        "2026-06-15T01:00:00Z",
        "2026-06-16T01:00:00Z",
        "2026-06-17T01:00:00Z",
        "2026-06-18T01:00:00Z",
        "2026-06-19T01:00:00Z",
    ]


def test_weekdays_930_shanghai_skip_the_weekend() -> None:
    assert fires("30 9 * * 1-5", "Asia/Shanghai", count=6) == [
        "2026-06-15T01:30:00Z",
        "2026-06-16T01:30:00Z",
        "2026-06-17T01:30:00Z",
        "2026-06-18T01:30:00Z",
        "2026-06-19T01:30:00Z",
        "2026-06-22T01:30:00Z",
    ]


def test_daylight_saving_moves_the_utc_time() -> None:
    before_switch = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    assert fires("0 9 * * *", "America/New_York", after=before_switch, count=4) == [
        "2026-03-06T14:00:00Z",
        "2026-03-07T14:00:00Z",
        "2026-03-08T13:00:00Z",  # EDT from 2026-03-08
        "2026-03-09T13:00:00Z",
    ]
    autumn = datetime(2026, 10, 24, 0, 0, tzinfo=UTC)
    assert fires("0 9 * * *", "Europe/London", after=autumn, count=3) == [
        "2026-10-24T08:00:00Z",
        "2026-10-25T09:00:00Z",  # GMT from 2026-10-25
        "2026-10-26T09:00:00Z",
    ]


def test_wall_times_in_the_spring_gap_do_not_fire() -> None:
    after = datetime(2026, 3, 7, 0, 0, tzinfo=UTC)
    assert fires("30 2 * * *", "America/New_York", after=after, count=2) == [
        "2026-03-07T07:30:00Z",
        "2026-03-09T06:30:00Z",  # 02:30 on 2026-03-08 does not exist
    ]


def test_repeated_wall_times_fire_once_at_the_first_occurrence() -> None:
    after = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    assert fires("30 1 * * *", "America/New_York", after=after, count=3) == [
        "2026-11-01T05:30:00Z",  # 01:30 EDT; the 01:30 EST an hour later does not fire
        "2026-11-02T06:30:00Z",
        "2026-11-03T06:30:00Z",
    ]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/15 * * * *", ["09:00", "09:15", "09:30", "09:45", "10:00"]),
        ("0-30/10 9,11 * * *", ["09:00", "09:10", "09:20", "09:30", "11:00"]),
        ("5,10 9 * * *", ["09:05", "09:10"]),
        ("50/5 9 * * *", ["09:50", "09:55"]),
        ("0 9-10 * * *", ["09:00", "10:00"]),
    ],
)
def test_steps_lists_and_ranges(expression: str, expected: list[str]) -> None:
    after = datetime(2026, 6, 15, 8, 59, 59, tzinfo=UTC)
    times = fires(expression, after=after, count=len(expected))
    assert [t[11:16] for t in times] == expected
    assert all(t.startswith("2026-06-15") for t in times)


def test_month_and_weekday_names() -> None:
    assert fires("0 0 1 jan,JUL *", count=3) == [
        "2026-07-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
        "2027-07-01T00:00:00Z",
    ]
    assert fires("0 12 * * Sat-sun", count=3) == fires("0 12 * * 0,6,7", count=3)
    assert fires("0 12 * * 7", count=2) == ["2026-06-14T12:00:00Z", "2026-06-21T12:00:00Z"]


def test_day_of_month_and_day_of_week_combine_with_or_when_both_are_restricted() -> None:
    # The 13th of any month, or any Friday.
    assert fires("0 0 13 * 5", count=4) == [
        "2026-06-19T00:00:00Z",
        "2026-06-26T00:00:00Z",
        "2026-07-03T00:00:00Z",
        "2026-07-10T00:00:00Z",
    ]
    assert fires("0 0 13 * 5", after=datetime(2026, 7, 10, 1, tzinfo=UTC), count=2) == [
        "2026-07-13T00:00:00Z",
        "2026-07-17T00:00:00Z",
    ]
    # A day field starting with "*" counts as unrestricted: both must match.
    assert fires("0 0 */2 * 5", count=2) == ["2026-06-19T00:00:00Z", "2026-07-03T00:00:00Z"]


def test_next_times_are_strictly_after_now() -> None:
    exactly = datetime(2026, 6, 15, 1, 0, tzinfo=UTC)
    assert fires("0 9 * * *", "Asia/Shanghai", after=exactly, count=1) == ["2026-06-16T01:00:00Z"]


def test_an_expression_that_never_fires_has_no_times() -> None:
    assert fires("0 0 30 2 *") == []
    assert fires("0 0 29 2 *", count=2) == ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]


def test_cached_upcoming_runs_match_the_uncached_computation() -> None:
    now = SUNDAY.timestamp() + 17.5
    assert upcoming_runs("*/7 * * * *", "Europe/Berlin", now) == fires(
        "*/7 * * * *", "Europe/Berlin", after=datetime.fromtimestamp(now, UTC)
    )


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "0 9 * *",
        "0 9 * * * *",
        "60 9 * * *",
        "0 24 * * *",
        "0 9 0 * *",
        "0 9 32 * *",
        "0 9 * 13 *",
        "0 9 * 0 *",
        "0 9 * * 8",
        "0 9 * * fri-mon",
        "5-1 9 * * *",
        "*/0 9 * * *",
        "*/x 9 * * *",
        "1, 9 * * *",
        "1,,2 9 * * *",
        "1- 9 * * *",
        "-1 9 * * *",
        "0 9 * * funday",
        "@daily",
        "0 9 L * *",
        "0 9 ? * *",
        "0 ９ * * *",
    ],
)
def test_invalid_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(CronError):
        parse_cron(expression)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", " UTC", "../etc/passwd", "Asia"])
def test_invalid_timezones_are_rejected(zone: str) -> None:
    with pytest.raises(CronError):
        next_fire_times("0 9 * * *", zone, after=SUNDAY)


def test_after_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_fire_times("0 9 * * *", "UTC", after=datetime(2026, 6, 14))
