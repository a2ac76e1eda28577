"""Rendering for the command line: aligned tables, key/value views and JSON.

Tables are plain text (no third-party dependency) so the CLI works on a bare install;
JSON goes through the SDK's own converter so ``--json`` prints the wire shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from qoder_async.bulk import BulkReport, Outcome
from qoder_async.models import Deployment, DeploymentRun
from qoder_async.serialization import to_dict

__all__ = [
    "DEPLOYMENT_HEADERS",
    "RUN_HEADERS",
    "SummaryRow",
    "bulk_summary",
    "bulk_summary_rows",
    "deployment_details",
    "deployment_row",
    "format_count",
    "format_pairs",
    "format_summary",
    "format_table",
    "format_tsv",
    "plural",
    "print_json",
    "print_json_line",
    "run_details",
    "run_row",
    "to_json",
]

MAX_CELL = 48
"""Cells wider than this are cut with an ellipsis so one long name cannot wreck a table."""


def format_count(value: int) -> str:
    """``12345`` -> ``12,345``."""
    return f"{value:,}"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 deployment``, ``2 deployments``, ``1,000 runs``; ``many`` for an irregular
    plural (``plural(n, "retry", "retries")``)."""
    return f"{format_count(count)} {noun if count == 1 else many or noun + 's'}"


def _cell(value: object) -> str:
    text = "-" if value is None or value == "" else str(value)
    text = " ".join(text.split())  # newlines or tabs inside a cell would break alignment
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace(".", "").replace("%", "")
    return stripped.isdigit()


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Render rows as an aligned table; numeric columns are right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))
    right = [
        bool(cells) and all(_numeric(row[i]) or row[i] == "-" for row in cells)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(widths[i]) if right[i] else value.ljust(widths[i])
            for i, value in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers))]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def format_tsv(rows: Iterable[Sequence[object]]) -> str:
    """Rows as tab-separated lines with no header, for a pipe (as ``gh`` prints them).

    Cells are whole (never cut to a width) with tabs and newlines turned into spaces, so
    every line has the same number of fields for ``cut``, ``awk`` or ``sort``.
    """
    return "\n".join(
        "\t".join("" if value is None else " ".join(str(value).split()) for value in row)
        for row in rows
    )


def format_pairs(pairs: Iterable[tuple[str, object]]) -> str:
    """A two-column key/value view for one object."""
    items = [(key, "-" if value is None or value == "" else str(value)) for key, value in pairs]
    width = max((len(key) for key, _ in items), default=0)
    return "\n".join(f"{key.ljust(width)}  {value}".rstrip() for key, value in items)


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _state(deployment: Deployment) -> str:
    # ``status`` keeps its old value after archiving, so it alone would mislead a reader.
    return "archived" if deployment.is_archived else str(deployment.status)


def _schedule(deployment: Deployment) -> str:
    schedule = deployment.schedule
    if schedule is None:
        return "manual"
    return f"{schedule.expression} ({schedule.timezone})"


DEPLOYMENT_HEADERS = ("ID", "NAME", "STATE", "SCHEDULE", "CREATED")


def deployment_row(deployment: Deployment) -> tuple[object, ...]:
    """One table row for a deployment (see ``DEPLOYMENT_HEADERS``)."""
    return (
        deployment.id,
        deployment.name,
        _state(deployment),
        _schedule(deployment),
        _when(deployment.created_at),
    )


def deployment_details(deployment: Deployment) -> str:
    """A readable key/value view of one deployment."""
    schedule = deployment.schedule
    upcoming = (
        _when(schedule.upcoming_runs_at[0]) if schedule and schedule.upcoming_runs_at else None
    )
    user_metadata = {k: v for k, v in deployment.metadata.items() if k != "cas_config"}
    return format_pairs(
        [
            ("id", deployment.id),
            ("name", deployment.name),
            ("state", _state(deployment)),
            ("status", deployment.status),
            ("paused_reason", deployment.paused_reason.type if deployment.paused_reason else None),
            ("archived_at", _when(deployment.archived_at)),
            ("description", deployment.description),
            ("agent", f"{deployment.agent.id} (version {deployment.agent.version})"),
            ("environment_id", deployment.environment_id),
            ("schedule", _schedule(deployment)),
            ("next_run_at", upcoming),
            ("initial_events", len(deployment.initial_events)),
            ("vault_ids", ", ".join(deployment.vault_ids)),
            ("metadata", ", ".join(f"{k}={v}" for k, v in sorted(user_metadata.items()))),
            ("created_at", _when(deployment.created_at)),
            ("updated_at", _when(deployment.updated_at)),
        ]
    )


RUN_HEADERS = ("ID", "DEPLOYMENT", "STATUS", "TRIGGER", "TRIGGERED", "DURATION")


def _duration(run: DeploymentRun) -> str | None:
    return None if run.duration_ms is None else f"{run.duration_ms / 1000:.1f}s"


def run_row(run: DeploymentRun) -> tuple[object, ...]:
    """One table row for a run (see ``RUN_HEADERS``)."""
    return (
        run.id,
        run.deployment_id,
        run.status,
        run.trigger_context.type,
        _when(run.triggered_at),
        _duration(run),
    )


def run_details(run: DeploymentRun) -> str:
    """A readable key/value view of one run."""
    return format_pairs(
        [
            ("id", run.id),
            ("deployment_id", run.deployment_id),
            ("status", run.status),
            ("trigger", run.trigger_context.type),
            ("agent", f"{run.agent.id} (version {run.agent.version})"),
            ("session_id", run.session_id),
            ("triggered_at", _when(run.triggered_at)),
            ("completed_at", _when(run.completed_at)),
            ("duration", _duration(run)),
            ("error", f"{run.error.type}: {run.error.message}" if run.error else None),
        ]
    )


def to_json(obj: Any) -> Any:
    """A model (or plain data holding models) as JSON-ready data in the wire shape."""
    return to_dict(obj)


def print_json(obj: Any, stream: TextIO) -> None:
    """One object as indented JSON (the whole of stdout parses as one document)."""
    stream.write(json.dumps(to_json(obj), indent=2, ensure_ascii=False) + "\n")


def print_json_line(obj: Any, stream: TextIO) -> None:
    """One object as a single JSON line, flushed so a reading pipe sees it at once."""
    stream.write(json.dumps(to_json(obj), separators=(",", ":"), ensure_ascii=False) + "\n")
    stream.flush()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.01 else f"{seconds * 1000:.1f}"


def bulk_summary(report: BulkReport) -> dict[str, Any]:
    """Derived figures of a bulk report: throughput, retries and latency percentiles."""
    # Ids a stopped job never reached took no time: counting them would make a job that
    # gave up at once look like the fastest run of all.
    handled = len(report.outcomes) - report.counts[Outcome.NOT_ATTEMPTED]
    launched = sum(1 for item in report.outcomes.values() if item.attempts > 0)
    return {
        "throughput_per_s": round(handled / report.elapsed, 1) if report.elapsed > 0 else 0.0,
        "extra_attempts": max(0, report.attempts - launched),
        "p50_ms": round(report.latency_percentile(0.50) * 1000, 1),
        "p99_ms": round(report.latency_percentile(0.99) * 1000, 1),
    }


SummaryRow = tuple[str, str, str]
"""(label, value, unit or note): values are right-aligned, notes follow them."""


def format_summary(rows: Iterable[SummaryRow], indent: str = "") -> str:
    """Render summary rows: labels left, values right-aligned, notes after."""
    items = list(rows)
    label_width = max((len(label) for label, _, _ in items), default=0)
    value_width = max((len(value) for _, value, _ in items), default=0)
    return "\n".join(
        f"{indent}{label.ljust(label_width)}  {value.rjust(value_width)}  {note}".rstrip()
        for label, value, note in items
    )


def bulk_summary_rows(
    report: BulkReport,
    *,
    extra: Iterable[SummaryRow] = (),
    duplicates: int | None = None,
) -> list[SummaryRow]:
    """The rows of the human summary of a bulk archive (render with ``format_summary``).

    ``duplicates`` overrides the report's count when the caller dropped some itself.
    """
    counts = report.counts
    derived = bulk_summary(report)
    rows: list[SummaryRow] = [
        ("archived", format_count(counts[Outcome.ARCHIVED]), ""),
        ("already archived", format_count(counts[Outcome.ALREADY_ARCHIVED]), "(409, checked)"),
        ("not found", format_count(counts[Outcome.NOT_FOUND]), ""),
        ("failed", format_count(counts[Outcome.FAILED]), ""),
    ]
    if counts[Outcome.INTERRUPTED]:
        rows.append(("interrupted", format_count(counts[Outcome.INTERRUPTED]), "(state unknown)"))
    if counts[Outcome.NOT_ATTEMPTED]:
        rows.append(("not attempted", format_count(counts[Outcome.NOT_ATTEMPTED]), "(job stopped)"))
    rows += list(extra)
    duplicates = report.duplicates if duplicates is None else duplicates
    extra_attempts = plural(
        derived["extra_attempts"], "retry or state check", "retries or state checks"
    )
    rows += [
        ("duplicates skipped", format_count(duplicates), ""),
        (
            "attempts",
            format_count(report.attempts),
            f"({extra_attempts})",
        ),
        ("throttled", format_count(report.throttled), "(429 / 503 / connection reset)"),
        ("elapsed", f"{report.elapsed:.2f}", "s"),
        ("throughput", f"{derived['throughput_per_s']:,.0f}", "ids/s"),
        (
            "latency p50 / p99",
            f"{_ms(report.latency_percentile(0.5))} / {_ms(report.latency_percentile(0.99))}",
            "ms",
        ),
    ]
    return rows
