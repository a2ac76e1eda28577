"""What a bulk job reports: one ``ItemOutcome`` per id, gathered in a ``BulkReport``."""

from __future__ import annotations

import enum
import sys
from collections import Counter
from typing import Any

import attrs

from qoder_async.errors import APIConnectionError, APIStatusError, QoderError

__all__ = ["BulkReport", "ItemOutcome", "Outcome", "lean_error"]


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
    NOT_ATTEMPTED = "not_attempted"
    """The job stopped (see ``BulkReport.stopped``) before anything for this id could
    have changed it: nothing was sent, or only requests the API refused outright."""

    @property
    def ok(self) -> bool:
        """True when the id ended in the state the operation asked for."""
        return self in _OK

    @property
    def final(self) -> bool:
        """True when running the id again cannot change its outcome (done, or not found)."""
        return self is Outcome.NOT_FOUND or self in _OK


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


def lean_error(error: QoderError | None) -> QoderError | None:
    """``error`` without what would pin memory: traceback, chained errors, request, body,
    response headers.

    An outcome is kept for every id of a batch that may hold hundreds of thousands; a
    traceback keeps every frame (and their locals) of the failed call alive, about
    10 KiB each. What a user needs stays: the type, status, message and request id.
    """
    if error is None:
        return None
    error.__traceback__ = None
    error.__context__ = None
    error.__cause__ = None
    if isinstance(error, APIConnectionError):
        error.request = None
    elif isinstance(error, APIStatusError):
        # The request id is kept in its own field; the rest of the headers (a dozen
        # strings per id) is what a batch of 100,000 unknown ids would pin. Without the
        # attribute the class's empty default shows through, and the rebuilt instance
        # dict holds ten entries: CPython doubles a dict's table at the eleventh, so
        # this is 272 instead of 464 bytes per error.
        fields = vars(error)
        fields.pop("headers", None)
        error.__dict__ = dict(fields)
    if isinstance(error, APIStatusError) and error.error_type is not None:
        # The envelope's fields are kept; the raw snippet they were parsed from would
        # only repeat them. Its type name is one of a few: share one copy.
        error.body = ""
        error.error_type = sys.intern(error.error_type)
    return error


@attrs.frozen(kw_only=True)
class ItemOutcome:
    """The outcome of one id.

    Attributes:
        id: The deployment id.
        outcome: What happened.
        error: The error behind ``failed``, ``not_found`` or ``not_attempted`` (for the
            last, what stopped the job), else ``None``. Stored without its traceback,
            chained errors or request (see ``lean_error``).
        attempts: HTTP attempts spent on this id (GETs that checked a conflict included).
        latency: Seconds from launching the call to knowing the outcome.
    """

    id: str
    outcome: Outcome
    error: QoderError | None = attrs.field(default=None, converter=lean_error)
    attempts: int = 0
    latency: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the id ended in the state the operation asked for."""
        return self.outcome.ok

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the error as its type, message and status)."""
        data: dict[str, Any] = {
            "id": self.id,
            "outcome": str(self.outcome),
            "attempts": self.attempts,
            "latency_ms": round(self.latency * 1000, 3),
        }
        if self.error is not None:
            data["error"] = f"{type(self.error).__name__}: {self.error}"
            status = getattr(self.error, "status", None)
            if status is not None:
                data["status"] = status
        return data


@attrs.define(kw_only=True)
class BulkReport:
    """Everything a bulk job did; live while it runs, final when it returns.

    Attributes:
        action: ``archive``, ``pause`` or ``unpause``.
        outcomes: One entry per id, in the order they finished.
        duplicates: Ids seen again in the input and skipped.
        attempts: HTTP attempts in all.
        throttled: Attempts the API throttled (429, 503, connection errors).
        elapsed: Seconds the job has run.
        cancelled: Whether the job was cancelled before it finished its input.
        stopped: The error that stopped the job early (a 401 or 403, or a host that
            never answered), else ``None``; the awaited job raised it too.
    """

    action: str
    outcomes: dict[str, ItemOutcome] = attrs.field(factory=dict)
    duplicates: int = 0
    attempts: int = 0
    throttled: int = 0
    elapsed: float = 0.0
    cancelled: bool = False
    stopped: QoderError | None = None

    @property
    def counts(self) -> Counter[Outcome]:
        """Ids per outcome."""
        return Counter(item.outcome for item in self.outcomes.values())

    @property
    def ok(self) -> bool:
        """True when the job finished and every id ended in the asked-for state."""
        return (
            not self.cancelled
            and self.stopped is None
            and all(item.ok for item in self.outcomes.values())
        )

    @property
    def failed(self) -> list[ItemOutcome]:
        """Outcomes that are not successes (failed, not found, interrupted, not attempted)."""
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
            "counts": {str(outcome): count for outcome, count in self.counts.items()},
            "duplicates": self.duplicates,
            "attempts": self.attempts,
            "throttled": self.throttled,
            "elapsed_s": round(self.elapsed, 3),
            "cancelled": self.cancelled,
            "stopped": None if self.stopped is None else str(self.stopped),
            "ok": self.ok,
        }
