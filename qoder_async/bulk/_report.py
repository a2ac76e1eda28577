"""What a bulk job reports: one ``ItemOutcome`` per id, gathered in a ``BulkReport``."""

from __future__ import annotations

import enum
from collections import Counter
from typing import Any

import attrs

__all__ = ["BulkReport", "ItemOutcome", "Outcome"]


class Outcome(enum.StrEnum):
    """What happened to one id."""

    ARCHIVED = "archived"
    ALREADY_ARCHIVED = "already_archived"
    PAUSED = "paused"
    ALREADY_PAUSED = "already_paused"
    UNPAUSED = "unpaused"
    ALREADY_ACTIVE = "already_active"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """Cancelled while its call was in flight: the change may or may not have landed."""

    @property
    def ok(self) -> bool:
        """True when the id ended in the state the operation asked for."""
        return self in _OK


_OK = frozenset(
    {
        Outcome.ARCHIVED,
        Outcome.ALREADY_ARCHIVED,
        Outcome.PAUSED,
        Outcome.ALREADY_PAUSED,
        Outcome.UNPAUSED,
        Outcome.ALREADY_ACTIVE,
    }
)


@attrs.frozen(kw_only=True)
class ItemOutcome:
    """The outcome of one id.

    Attributes:
        id: The deployment id.
        outcome: What happened.
        error: The error behind ``failed`` (or ``not_found``), else ``None``.
        attempts: HTTP attempts spent on this id (GETs that checked a conflict included).
        latency: Seconds from launching the call to knowing the outcome.
    """

    id: str
    outcome: Outcome
    error: BaseException | None = None
    attempts: int = 0
    latency: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the id ended in the state the operation asked for."""
        return self.outcome.ok

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the error as its type and message)."""
        data: dict[str, Any] = {
            "id": self.id,
            "outcome": str(self.outcome),
            "attempts": self.attempts,
            "latency_ms": round(self.latency * 1000, 3),
        }
        if self.error is not None:
            data["error"] = f"{type(self.error).__name__}: {self.error}"
        return data


@attrs.define(kw_only=True)
class BulkReport:
    """Everything a bulk job did; live while it runs, final when it returns.

    Attributes:
        action: ``archive``, ``pause`` or ``unpause``.
        outcomes: One entry per id, in the order they finished.
        duplicates: Ids seen again in the input and skipped.
        attempts: HTTP attempts in all.
        throttled: Attempts the API throttled (429, 503, connection reset).
        min_concurrency: The lowest concurrency limit the job fell to.
        elapsed: Seconds the job has run.
        cancelled: Whether the job was cancelled before it finished its input.
    """

    action: str
    outcomes: dict[str, ItemOutcome] = attrs.field(factory=dict)
    duplicates: int = 0
    attempts: int = 0
    throttled: int = 0
    min_concurrency: int = 0
    elapsed: float = 0.0
    cancelled: bool = False

    @property
    def counts(self) -> Counter[str]:
        """Ids per outcome."""
        return Counter(str(item.outcome) for item in self.outcomes.values())

    @property
    def ok(self) -> bool:
        """True when the job finished and every id ended in the asked-for state."""
        return not self.cancelled and all(item.ok for item in self.outcomes.values())

    @property
    def failed(self) -> list[ItemOutcome]:
        """Outcomes that are not successes (failed, not found, interrupted)."""
        return [item for item in self.outcomes.values() if not item.ok]

    def ids(self, outcome: Outcome | str) -> list[str]:
        """Ids that ended with ``outcome``."""
        return [item.id for item in self.outcomes.values() if item.outcome == outcome]

    def latency_percentile(self, fraction: float) -> float:
        """Latency (seconds) at ``fraction`` (0..1) over finished ids; 0 when none."""
        latencies = sorted(item.latency for item in self.outcomes.values())
        if not latencies:
            return 0.0
        index = min(len(latencies) - 1, max(0, round(fraction * (len(latencies) - 1))))
        return latencies[index]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary without the per-id list."""
        return {
            "action": self.action,
            "total": len(self.outcomes),
            "counts": dict(self.counts),
            "duplicates": self.duplicates,
            "attempts": self.attempts,
            "throttled": self.throttled,
            "elapsed_s": round(self.elapsed, 3),
            "cancelled": self.cancelled,
            "ok": self.ok,
        }
