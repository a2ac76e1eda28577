"""Deployment runs: creation, (simulated) completion, lookup and listing. No HTTP here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from qoder_async.testing._common import (
    ApiError,
    IdFactory,
    Json,
    format_nanos,
    format_seconds,
    in_bounds,
    put_sorted,
)
from qoder_async.testing._index import OrderedIndex, cursor_page, page_envelope
from qoder_async.testing.queries import RunQuery

__all__ = ["RunStore"]

_NANOS = 1_000_000_000
_START_DELAY_NS = 38_000_000  # a session starts a few tens of ms after the trigger


class RunStore:
    """Every run, indexed globally and per deployment, newest first by ``triggered_at``.

    A new run is ``running`` (with a session) unless the deployment already has
    ``cas_config.config.max_concurrent`` runs in flight, in which case it is recorded as
    ``skipped``. Runs stay ``running`` until :meth:`complete` — or, when
    :attr:`run_duration` is set, until that many seconds have passed (checked lazily).
    """

    def __init__(
        self, deployments: Mapping[str, Json], ids: IdFactory, now_nanos: Callable[[], int]
    ) -> None:
        self.runs: dict[str, Json] = {}
        self.run_duration: float | None = None
        self._deployments = deployments
        self._ids = ids
        self._now_nanos = now_nanos
        self._index = OrderedIndex()
        self._of: dict[str, OrderedIndex] = {}
        self._nanos: dict[str, int] = {}
        self._running: dict[str, int] = {}  # run id -> started (ns)
        self._running_per_deployment: Counter[str] = Counter()

    def start(self, deployment: Json, trigger_type: str) -> Json:
        """Record a triggered run and update the deployment's stats and ``last_run_at``."""
        self.settle()
        deployment_id = deployment["id"]
        nanos = self._now_nanos()
        sequence = self._ids.next_sequence()
        run_id = self._ids.new("drun", nanos / _NANOS, sequence)
        cas_config = deployment["metadata"]["cas_config"]
        stamp = format_nanos(nanos)
        run: Json = {
            "agent": dict(deployment["agent"]),
            "created_at": stamp,
            "deployment_id": deployment_id,
            "error": None,
            "id": run_id,
            "status": "running",
            "trigger_context": {"type": trigger_type},
            "triggered_at": stamp,
            "type": "deployment_run",
        }
        if self._running_per_deployment[deployment_id] >= cas_config["config"]["max_concurrent"]:
            # Never started, so no session and no extras; terminal at once.
            run["status"] = "skipped"
            put_sorted(run, "completed_at", stamp)
        else:
            started = nanos + _START_DELAY_NS
            extras = {
                "attempt": 1,
                "started_at": format_nanos(started, digits=6),
                "turn_id": self._ids.new("turn", started / _NANOS),
            }
            put_sorted(run, "cas_run_extras", extras)
            put_sorted(run, "session_id", self._ids.new("sess", started / _NANOS))
            self._running[run_id] = started
            self._running_per_deployment[deployment_id] += 1
        self.runs[run_id] = run
        self._nanos[run_id] = nanos
        self._index.add(run_id, (nanos, sequence))
        self._of.setdefault(deployment_id, OrderedIndex()).add(run_id, (nanos, sequence))
        stats = cas_config["stats"]
        stats["total_runs"] += 1
        second = format_seconds(nanos / _NANOS)
        put_sorted(stats, "last_triggered_at", second)
        if deployment["schedule"] is not None:
            put_sorted(deployment["schedule"], "last_run_at", second)
        return run

    def complete(
        self, run_id: str, *, status: str = "completed", error: Mapping[str, str] | None = None
    ) -> Json:
        """Finish a running run as ``completed`` or ``failed``.

        Raises:
            KeyError: unknown run.
            ValueError: the run is not running, or ``status`` is not a terminal outcome.
        """
        run = self.runs[run_id]
        if run_id not in self._running or status not in ("completed", "failed"):
            raise ValueError(f"cannot move run {run_id} ({run['status']}) to {status!r}")
        started = self._running.pop(run_id)
        self._running_per_deployment[run["deployment_id"]] -= 1
        finished = max(self._now_nanos(), started)
        run["status"] = status
        put_sorted(run, "completed_at", format_nanos(finished))
        stats = self._deployments[run["deployment_id"]]["metadata"]["cas_config"]["stats"]
        if status == "completed":
            put_sorted(run, "duration_ms", (finished - started) // 1_000_000)
            stats["consecutive_failures"] = 0
        else:
            failure = {"message": "The agent session failed.", "type": "api_error"}
            run["error"] = dict(error or failure)
            stats["total_failures"] += 1
            stats["consecutive_failures"] += 1
        return run

    def settle(self) -> None:
        """Complete the runs whose simulated duration has elapsed."""
        if self.run_duration is None or not self._running:
            return
        deadline = self._now_nanos() - round(self.run_duration * _NANOS)
        for run_id, started in list(self._running.items()):
            if started <= deadline:
                self.complete(run_id)

    def get(self, run_id: str, deployment_id: str | None = None) -> Json:
        """One run; 404 when unknown or owned by another deployment than the given one."""
        run = self.runs.get(run_id)
        if run is None or (deployment_id is not None and run["deployment_id"] != deployment_id):
            raise ApiError.not_found(f"Deployment run {run_id} does not exist")
        self.settle()
        return run

    def list(self, query: RunQuery, deployment_id: str | None = None) -> Json:
        """A page of runs, newest first, of one deployment or of all."""
        owner = deployment_id or query.deployment_id
        index = self._index if owner is None else self._of.get(owner, OrderedIndex())
        self.settle()
        runs, nanos = self.runs, self._nanos
        after = None if query.triggered_after is None else query.triggered_after * _NANOS
        before = None if query.triggered_before is None else query.triggered_before * _NANOS
        bounded = any(bound is not None for bound in query.created)

        def keep(run_id: str) -> bool:
            run = runs[run_id]
            at = nanos[run_id]
            return (
                (query.status is None or run["status"] == query.status)
                and (
                    query.trigger_type is None
                    or run["trigger_context"]["type"] == query.trigger_type
                )
                and (query.has_error is None or (run["error"] is not None) == query.has_error)
                and (after is None or at > after)
                and (before is None or at < before)
                and (not bounded or in_bounds(at / _NANOS, query.created))
            )

        ids, more = cursor_page(index, keep, query)
        return page_envelope([runs[i] for i in ids], ids, more)
