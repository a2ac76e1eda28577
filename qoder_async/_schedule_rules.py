"""Request-side checks of a deployment schedule: cron syntax and IANA time zone.

Part of ``_validation``; split out to keep modules small.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from qoder_async.errors import InvalidArgumentError, InvalidArgumentTypeError
from qoder_async.models import Schedule, ScheduleSpec

__all__ = ["cron_expression", "schedule_body", "time_zone"]


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past sys.get_int_max_str_digits() cannot be shown
        return "an integer too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (label, lowest, highest, names); day of week 7 is Sunday again, as in Vixie cron.
_CRON_FIELDS: tuple[tuple[str, int, int, Mapping[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i for i, name in enumerate(_MONTHS, start=1)}),
    ("day of week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
)
_CRON_ITEM = re.compile(r"(?:(\*)|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:/([0-9]+))?")
_CRON_SPACE = re.compile(r"[ \t]+")


def _cron_value(token: str, low: int, high: int, names: Mapping[str, int]) -> int | None:
    if token.isascii() and token.isdigit():
        # Length first: int() refuses thousands of digits with an unrelated ValueError.
        number = int(token) if len(token) <= 4 else high + 1
        return number if low <= number <= high else None
    return names.get(token.upper())


def cron_expression(value: Any, *, name: str = "schedule.expression") -> str:
    """Check a standard 5-field cron expression (``min hour dom mon dow``) and return it.

    Each field may be ``*``, a value, a range ``a-b``, either with a ``/step``, or a
    comma-separated list of those; months and weekdays may be given as three-letter
    English names. Extensions such as ``?``, ``L``, ``W``, ``#`` or ``@daily`` are refused.
    """
    text = _str(value, name)
    fields = _CRON_SPACE.split(text.strip(" \t"))
    if len(fields) != len(_CRON_FIELDS):
        raise InvalidArgumentError(
            f"{name} must have 5 fields (minute hour day-of-month month day-of-week),"
            f" got {_show(text)}"
        )
    for field, (label, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in field.split(","):
            match = _CRON_ITEM.fullmatch(item)
            problem = "is not *, a value or a range" if match is None else None
            if match is not None:
                _, start, end, step = match.groups()
                first = _cron_value(start, low, high, names) if start else low
                last = _cron_value(end, low, high, names) if end else high
                if first is None or last is None:
                    problem = f"has a value that is not in {low}-{high}"
                elif first > last:
                    problem = "has a range that ends before it starts"
                elif step is not None and (len(step) > 4 or not 1 <= int(step) <= high):
                    problem = f"has a step outside 1-{high}"
            if problem is not None:
                raise InvalidArgumentError(f"{name}: {label} {_show(item)} {problem}")
    return text


@functools.cache
def _have_tz_database() -> bool:
    return bool(zoneinfo.available_timezones())


def time_zone(value: Any, *, name: str = "schedule.timezone") -> str:
    """Check an IANA time zone name such as ``Asia/Shanghai`` and return it.

    Where Python has no time zone database (Windows without ``tzdata``), any
    plausible name is accepted and the API has the last word.
    """
    text = _str(value, name)
    try:
        zoneinfo.ZoneInfo(text)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        if _have_tz_database() or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", text):
            raise InvalidArgumentError(
                f"{name} must be an IANA time zone such as 'Asia/Shanghai', got {_show(text)}"
            ) from None
    return text


def schedule_body(value: Any) -> dict[str, str]:
    """Check a schedule (``ScheduleSpec``, ``Schedule`` or mapping); return the wire form."""
    if isinstance(value, Schedule):
        value = value.to_spec()
    if isinstance(value, ScheduleSpec):
        fields: dict[Any, Any] = {
            "type": value.type,
            "expression": value.expression,
            "timezone": value.timezone,
        }
    elif isinstance(value, Mapping):
        fields = dict(value)
        if set(fields) != {"type", "expression", "timezone"}:
            raise InvalidArgumentError(
                "schedule must have exactly the keys type, expression and timezone"
            )
    else:
        raise InvalidArgumentTypeError(
            f"schedule must be a ScheduleSpec or a mapping, not {type(value).__name__}"
        )
    if fields["type"] != "cron":
        raise InvalidArgumentError(f"schedule.type must be 'cron', got {_show(fields['type'])}")
    return {
        "type": "cron",
        "expression": cron_expression(fields["expression"]),
        "timezone": time_zone(fields["timezone"]),
    }
