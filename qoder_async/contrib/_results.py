"""Chunk results shared by the job-runner integrations (no third-party imports).

A worker runs one *chunk* of ids through the bulk machinery and returns a JSON-able
dict (job runners serialise results, and exceptions do not travel well between
processes). A collector merges any number of such dicts back into one
:class:`~qoder_async.bulk.BulkReport` with exactly one final outcome per id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal

from qoder_async.bulk import BulkJob, BulkReport, ItemOutcome, Outcome
from qoder_async.client import QoderClient
from qoder_async.config import RetryPolicy
from qoder_async.errors import QoderError
from qoder_async.retry import is_throttle

__all__ = [
    "ACTIONS",
    "Action",
    "RemoteError",
    "check_action",
    "chunk_result",
    "is_throttle",
    "merge_results",
    "outcome_from_dict",
    "start_bulk",
    "throttle_wait",
]

Action = Literal["archive", "pause", "unpause"]
ACTIONS: Final[tuple[Action, ...]] = ("archive", "pause", "unpause")

# Which outcome survives when one id shows up in several results (a chunk that ran
# twice, or ids enqueued again): a success is final for these actions, so it beats
# anything; an honest "not found" beats a failure; an interruption says the least.
_RANK: Final[Mapping[Outcome, int]] = {
    Outcome.INTERRUPTED: 0,
    Outcome.FAILED: 1,
    Outcome.NOT_FOUND: 2,
}
_OK_RANK: Final = 3


class RemoteError(QoderError):
    """An error that happened in a worker process, carried back as its text."""


def check_action(action: str) -> Action:
    """``action`` if it is one of :data:`ACTIONS`, else ``ValueError``."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}; got {action!r}")
    return action


def start_bulk(
    client: QoderClient,
    action: str,
    ids: Sequence[str],
    *,
    concurrency: int,
    rate_limit: float | None = None,
    retry: RetryPolicy | None = None,
    on_outcome: Callable[[ItemOutcome], object] | None = None,
) -> BulkJob:
    """The ``bulk_<action>`` job of ``client`` over ``ids`` (not started yet)."""
    method = getattr(client.deployments, f"bulk_{check_action(action)}")
    job: BulkJob = method(
        list(ids),
        concurrency=concurrency,
        rate_limit=rate_limit,
        retry=retry,
        on_outcome=on_outcome,
    )
    return job


def throttle_wait(outcomes: Iterable[ItemOutcome]) -> float | None:
    """The longest ``Retry-After`` the API asked for among throttled failures, if any."""
    waits = [
        wait
        for item in outcomes
        if is_throttle(item.error)
        and isinstance(wait := getattr(item.error, "retry_after", None), int | float)
    ]
    return max(waits) if waits else None


def chunk_result(
    action: str,
    outcomes: Iterable[Mapping[str, Any]],
    *,
    report: BulkReport | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The JSON-able result of one chunk: its per-id outcomes and a summary.

    ``outcomes`` are :meth:`ItemOutcome.as_dict` dicts; ``extra`` adds fields such as
    the job id and try number.
    """
    listed = [dict(item) for item in outcomes]
    result: dict[str, Any] = {
        "action": action,
        "outcomes": listed,
        "attempts": report.attempts if report is not None else 0,
        "throttled": report.throttled if report is not None else 0,
        "elapsed_s": round(report.elapsed, 3) if report is not None else 0.0,
        "ok": all(Outcome(item["outcome"]).ok for item in listed),
    }
    result.update(extra)
    return result


def outcome_from_dict(data: Mapping[str, Any]) -> ItemOutcome:
    """Rebuild an :class:`ItemOutcome` from its ``as_dict()`` form."""
    error = data.get("error")
    return ItemOutcome(
        id=str(data["id"]),
        outcome=Outcome(data["outcome"]),
        error=RemoteError(error) if error else None,
        attempts=int(data.get("attempts", 0)),
        latency=float(data.get("latency_ms", 0.0)) / 1000,
    )


def _rank(item: ItemOutcome) -> int:
    return _OK_RANK if item.ok else _RANK.get(item.outcome, 0)


def merge_results(action: str, results: Iterable[Mapping[str, Any]]) -> BulkReport:
    """Merge chunk results, oldest first, into one report with one outcome per id.

    When an id appears more than once, a success wins over a failure or an
    interruption wherever it appears; between outcomes of equal rank the later one
    wins. Attempts and throttling counts add up across results.
    """
    report = BulkReport(action=check_action(action))
    for result in results:
        report.attempts += int(result.get("attempts", 0))
        report.throttled += int(result.get("throttled", 0))
        for data in result.get("outcomes", ()):
            item = outcome_from_dict(data)
            seen = report.outcomes.get(item.id)
            if seen is None or _rank(item) >= _rank(seen):
                report.outcomes[item.id] = item
    return report
