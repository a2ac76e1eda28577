"""What every benchmark section hands to the report: tables, targets and raw numbers.

Sections build these plain objects; ``report`` turns them into text and JSON. Keeping
formatting helpers here means every table prints numbers the same way.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

import attrs

__all__ = [
    "NA",
    "Section",
    "Settings",
    "Table",
    "Target",
    "fmt",
    "median",
    "ratio",
    "section_from_dict",
    "section_to_dict",
]

NA = "n/a (not installed)"
"""Shown in a column whose optional package (from the ``bench`` extra) is missing."""


@attrs.frozen(kw_only=True)
class Settings:
    """How big and how repeated a run is.

    Attributes:
        quick: Tiny sizes and one repeat: checks the harness works, proves no speed.
        repeats: Times each measurement is repeated; reports show the median.
    """

    quick: bool = False
    repeats: int = 3

    def scale(self, full: int, quick: int) -> int:
        """``full`` for a real run, ``quick`` for a smoke run."""
        return quick if self.quick else full


@attrs.define(kw_only=True)
class Table:
    """One printed table: a title, column headers and rows of already-formatted cells.

    ``text_columns`` are left-aligned (names, notes); the others hold numbers and are
    right-aligned.
    """

    title: str
    columns: list[str]
    rows: list[list[str]] = attrs.field(factory=list)
    text_columns: frozenset[int] = frozenset({0})


@attrs.define(kw_only=True)
class Target:
    """A goal from the issue next to the value this run reached.

    Attributes:
        name: What is compared, e.g. ``bulk c=64 throughput ours/raw``.
        goal: The goal as text, e.g. ``>= 0.85``.
        value: The ratio reached (``None`` when it could not be measured here).
        passed: Whether ``value`` meets the goal (``None`` when not measured).
    """

    name: str
    goal: str
    value: float | None
    passed: bool | None

    @classmethod
    def at_least(cls, name: str, value: float | None, goal: float) -> Target:
        """A ratio that must be ``>= goal``."""
        passed = None if value is None else value >= goal
        return cls(name=name, goal=f">= {goal:g}", value=value, passed=passed)

    @classmethod
    def at_most(cls, name: str, value: float | None, goal: float) -> Target:
        """A ratio that must be ``<= goal``."""
        passed = None if value is None else value <= goal
        return cls(name=name, goal=f"<= {goal:g}", value=value, passed=passed)

    @property
    def verdict(self) -> str:
        """``PASS``, ``MISS`` or ``n/a``."""
        if self.passed is None:
            return "n/a"
        return "PASS" if self.passed else "MISS"


@attrs.define(kw_only=True)
class Section:
    """The outcome of one benchmark module.

    Attributes:
        name: Short key (``bulk``, ``decoding``, ...), as used by ``--only``.
        title: Heading printed above the section.
        tables: What gets printed.
        targets: Goals with PASS/MISS.
        notes: Lines printed under the tables (method, caveats).
        data: The raw numbers, written to the JSON report.
        seconds: How long the section took to run.
    """

    name: str
    title: str
    tables: list[Table] = attrs.field(factory=list)
    targets: list[Target] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)
    data: dict[str, Any] = attrs.field(factory=dict)
    seconds: float = 0.0


def median(values: Iterable[float]) -> float:
    """The median (of at least one value)."""
    return float(statistics.median(list(values)))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or ``None`` when either is missing or zero."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def fmt(value: float | None, digits: int = 1, *, missing: str = NA) -> str:
    """A number with thousands separators and ``digits`` decimals, or ``missing``."""
    if value is None:
        return missing
    return f"{value:,.{digits}f}"


def section_to_dict(section: Section) -> dict[str, Any]:
    """A JSON-ready copy of ``section`` (``section_from_dict`` reads it back)."""
    return {
        "name": section.name,
        "title": section.title,
        "tables": [
            {
                "title": table.title,
                "columns": table.columns,
                "rows": table.rows,
                "text_columns": sorted(table.text_columns),
            }
            for table in section.tables
        ],
        "targets": [
            {**attrs.asdict(target), "verdict": target.verdict} for target in section.targets
        ],
        "notes": section.notes,
        "data": section.data,
        "seconds": section.seconds,
    }


def section_from_dict(data: dict[str, Any]) -> Section:
    """The ``Section`` that ``section_to_dict`` wrote."""
    return Section(
        name=data["name"],
        title=data["title"],
        tables=[
            Table(
                title=table["title"],
                columns=table["columns"],
                rows=table["rows"],
                text_columns=frozenset(table["text_columns"]),
            )
            for table in data["tables"]
        ],
        targets=[
            Target(
                name=target["name"],
                goal=target["goal"],
                value=target["value"],
                passed=target["passed"],
            )
            for target in data["targets"]
        ],
        notes=data["notes"],
        data=data["data"],
        seconds=data["seconds"],
    )
