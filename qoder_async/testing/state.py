"""In-memory deployments and runs, and the deployment state machine (no HTTP here).

Objects are stored in their wire shape (the dicts are exactly what the API returns), so
tests can assert on ``state.deployments[dep_id]["status"]`` directly. Operations raise
:class:`ApiError` for the answers the API gives as errors (404, 409, 400).

State machine (wire reference §4.1): ``active --pause--> paused --unpause--> active``,
``active|paused --archive--> archived`` (terminal: ``archived_at`` set, ``status`` kept).
Conflicts are 409 ``conflict_error``: pause when paused or archived, unpause when not
paused or archived, archive when archived, run when paused or archived, and (a choice the
docs leave open) update when archived.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from qoder_async.testing._common import (
    ApiError,
    IdFactory,
    Json,
    format_seconds,
    in_bounds,
    put_sorted,
)
from qoder_async.testing._index import OrderedIndex, cursor_page, page_envelope
from qoder_async.testing.cron import upcoming_runs
from qoder_async.testing.queries import DeploymentQuery, RunQuery
from qoder_async.testing.runs import RunStore
from qoder_async.testing.validation import (
    check_metadata_size,
    validate_create,
    validate_schedule,
    validate_update,
)

__all__ = ["DEFAULT_SEED_SCHEDULE", "FakeState"]

DEFAULT_SEED_SCHEDULE: Mapping[str, str] = MappingProxyType(
    {"type": "cron", "expression": "0 9 * * *", "timezone": "Asia/Shanghai"}
)
_DEFAULT_CONFIG = {"max_concurrent": 1, "max_retries": 0, "timeout_ms": 300000}


class FakeState:
    """Deployments, runs and the rules that change them.

    Args:
        clock: POSIX seconds now (default ``time.time``); inject one to control time.
        seed: makes generated ids reproducible.
    """

    def __init__(self, *, clock: Callable[[], float] | None = None, seed: int | None = None):
        self._clock = clock
        self._ids = IdFactory(seed)
        #: Deployment id -> Deployment wire object.
        self.deployments: dict[str, Json] = {}
        #: Latest version of each agent; a bare agent id on create pins this (default 1).
        self.agent_versions: dict[str, int] = {}
        self._runs = RunStore(self.deployments, self._ids, self._now_nanos)
        #: Run id -> DeploymentRun wire object.
        self.runs: dict[str, Json] = self._runs.runs
        self.default_agent_id = "agent_" + "0" * 31 + "1"
        self.default_environment_id = "env_" + "0" * 31 + "1"
        self._deployment_index = OrderedIndex()
        self._created: dict[str, int] = {}

    @property
    def run_duration(self) -> float | None:
        """When set, a run completes this many seconds after it started (checked lazily
        on reads); None (default) keeps runs ``running`` until :meth:`complete_run`."""
        return self._runs.run_duration

    @run_duration.setter
    def run_duration(self, seconds: float | None) -> None:
        self._runs.run_duration = seconds

    # -- time ---------------------------------------------------------------------------

    def now(self) -> float:
        """Current POSIX time in seconds."""
        return time.time() if self._clock is None else self._clock()

    def _now_nanos(self) -> int:
        return time.time_ns() if self._clock is None else round(self._clock() * 1_000_000_000)

    # -- deployments --------------------------------------------------------------------

    def get(self, deployment_id: str) -> Json:
        """The deployment, or 404."""
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            raise ApiError.not_found(f"Deployment {deployment_id} does not exist")
        return self._fresh(deployment)

    def create(self, body: Any) -> Json:
        """``POST /deployments``: validate and store a new active deployment."""
        return self._insert(validate_create(body), self.now())

    def _insert(self, fields: Json, created: float) -> Json:
        sequence = self._ids.next_sequence()
        deployment_id = self._ids.new("dep", created, sequence)
        stamp = format_seconds(created)
        cas_overrides = fields.get("metadata", {}).pop("cas_config", {})
        deployment: Json = {
            "agent": self._resolve_agent(fields["agent"]),
            "archived_at": None,
            "created_at": stamp,
            "description": fields.get("description"),
            "environment_id": fields["environment_id"],
            "id": deployment_id,
            "initial_events": fields["initial_events"],
            "metadata": {},
            "name": fields["name"],
            "paused_reason": None,
            "resources": fields.get("resources", []),
            "schedule": None,
            "status": "active",
            "type": "deployment",
            "updated_at": stamp,
            "vault_ids": fields.get("vault_ids", []),
        }
        cas_config = {
            "config": dict(sorted({**_DEFAULT_CONFIG, **cas_overrides.get("config", {})}.items())),
            "session_strategy": cas_overrides.get("session_strategy", "new_session"),
            "stats": {"consecutive_failures": 0, "total_failures": 0, "total_runs": 0},
        }
        metadata = {**fields.get("metadata", {}), "cas_config": cas_config}
        deployment["metadata"] = dict(sorted(metadata.items()))
        for key in ("environment_variables", "budget"):
            if fields.get(key) is not None:
                put_sorted(deployment, key, fields[key])
        self._set_schedule(deployment, fields.get("schedule"))
        self.deployments[deployment_id] = deployment
        self._created[deployment_id] = int(created)
        self._deployment_index.add(deployment_id, (int(created), sequence))
        return deployment

    def _resolve_agent(self, agent: Json) -> Json:
        version = agent["version"] or self.agent_versions.get(agent["id"], 1)
        return {"id": agent["id"], "type": "agent", "version": version}

    def _set_schedule(self, deployment: Json, spec: Mapping[str, str] | None) -> None:
        """Install ``spec`` (or none) and compute upcoming runs from now."""
        if spec is None:
            deployment["schedule"] = None
            deployment["metadata"]["cas_config"]["stats"].pop("next_trigger_at", None)
            return
        schedule = {
            "expression": spec["expression"],
            "timezone": spec["timezone"],
            "type": "cron",
            "upcoming_runs_at": [],
        }
        previous = deployment.get("schedule")
        if previous and "last_run_at" in previous:
            put_sorted(schedule, "last_run_at", previous["last_run_at"])
        deployment["schedule"] = schedule
        self._recompute_upcoming(deployment)

    def _recompute_upcoming(self, deployment: Json) -> None:
        schedule = deployment["schedule"]
        upcoming = upcoming_runs(schedule["expression"], schedule["timezone"], self.now())
        schedule["upcoming_runs_at"] = upcoming
        stats = deployment["metadata"]["cas_config"]["stats"]
        if upcoming:
            put_sorted(stats, "next_trigger_at", upcoming[0])

    def _fresh(self, deployment: Json) -> Json:
        """Roll ``upcoming_runs_at`` forward once its first entry is in the past.

        Only active deployments move: paused ones keep their list (as the API does) and
        archived ones have none.
        """
        schedule = deployment["schedule"]
        if (
            schedule is not None
            and schedule["upcoming_runs_at"]
            and deployment["status"] == "active"
            and deployment["archived_at"] is None
            and schedule["upcoming_runs_at"][0] <= format_seconds(self.now())
        ):
            self._recompute_upcoming(deployment)
        return deployment

    def update(self, deployment_id: str, body: Any) -> Json:
        """``POST /deployments/{id}``: merge-patch; arrays replace; 409 when archived."""
        deployment = self.get(deployment_id)
        fields = validate_update(body)
        if deployment["archived_at"] is not None:
            raise ApiError.conflict("Archived deployments cannot be updated.")
        if "metadata" in fields:
            deployment["metadata"] = self._merge_metadata(
                deployment["metadata"], fields.pop("metadata")
            )
        if "agent" in fields:
            deployment["agent"] = self._resolve_agent(fields.pop("agent"))
        if "schedule" in fields:
            self._set_schedule(deployment, fields.pop("schedule"))
        for key, value in fields.items():
            if key in ("environment_variables", "budget") and value is None:
                deployment.pop(key, None)
            else:
                put_sorted(deployment, key, value)
        deployment["updated_at"] = format_seconds(self.now())
        return deployment

    @staticmethod
    def _merge_metadata(current: Json, patch: Json) -> Json:
        merged = dict(current)
        cas_patch = patch.pop("cas_config", None)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        check_metadata_size(merged)
        if cas_patch:
            cas_config = merged["cas_config"]
            if "session_strategy" in cas_patch:
                cas_config["session_strategy"] = cas_patch["session_strategy"]
            config = {**cas_config["config"], **cas_patch.get("config", {})}
            cas_config["config"] = dict(sorted(config.items()))
        return dict(sorted(merged.items()))

    def pause(self, deployment_id: str) -> Json:
        """``POST …/pause``: active → paused; 409 when paused or archived."""
        deployment = self.get(deployment_id)
        if deployment["archived_at"] is not None:
            raise ApiError.conflict("Deployment is archived.")
        if deployment["status"] == "paused":
            raise ApiError.conflict("Deployment is already paused.")
        deployment["status"] = "paused"
        deployment["paused_reason"] = {"type": "manual"}
        deployment["updated_at"] = format_seconds(self.now())
        return deployment

    def unpause(self, deployment_id: str) -> Json:
        """``POST …/unpause``: paused → active, next runs recomputed from now."""
        deployment = self.get(deployment_id)
        if deployment["archived_at"] is not None:
            raise ApiError.conflict("Deployment is archived.")
        if deployment["status"] != "paused":
            raise ApiError.conflict("Deployment is not paused.")
        deployment["status"] = "active"
        deployment["paused_reason"] = None
        deployment["updated_at"] = format_seconds(self.now())
        if deployment["schedule"] is not None:
            self._recompute_upcoming(deployment)
        return deployment

    def archive(self, deployment_id: str) -> Json:
        """``POST …/archive``: terminal; renames, stops the schedule, keeps ``status``."""
        deployment = self.get(deployment_id)
        if deployment["archived_at"] is not None:
            raise ApiError.conflict("Deployment is already archived.")
        now = self.now()
        deployment["name"] = f"{deployment['name']}_archived_{int(now)}"
        deployment["archived_at"] = format_seconds(now)
        deployment["updated_at"] = deployment["archived_at"]
        if deployment["schedule"] is not None:
            # next_trigger_at is deliberately left stale, as the API does.
            deployment["schedule"]["upcoming_runs_at"] = []
        return deployment

    # -- runs ---------------------------------------------------------------------------

    def run(self, deployment_id: str, *, trigger_type: str = "manual") -> Json:
        """``POST …/run`` (or a scheduler firing): a new run, ``skipped`` at max_concurrent."""
        deployment = self.get(deployment_id)
        if deployment["archived_at"] is not None:
            raise ApiError.conflict("Deployment is archived; only active deployments can run.")
        if deployment["status"] != "active":
            raise ApiError.conflict("Deployment is paused; only active deployments can run.")
        return self._runs.start(deployment, trigger_type)

    def complete_run(
        self, run_id: str, *, status: str = "completed", error: Mapping[str, str] | None = None
    ) -> Json:
        """Finish a running run as ``completed`` or ``failed`` (a test helper).

        Raises:
            KeyError: unknown run.
            ValueError: the run is not running, or ``status`` is not a terminal outcome.
        """
        return self._runs.complete(run_id, status=status, error=error)

    def get_run(self, run_id: str, deployment_id: str | None = None) -> Json:
        """One run; 404 when unknown or (scoped) owned by another deployment."""
        if deployment_id is not None:
            self.get(deployment_id)
        return self._runs.get(run_id, deployment_id)

    # -- lists --------------------------------------------------------------------------

    def list_deployments(self, query: DeploymentQuery) -> Json:
        """``GET /deployments``: newest first by ``created_at`` then id."""
        deployments = self.deployments
        bounded = any(bound is not None for bound in query.created)

        def keep(deployment_id: str) -> bool:
            item = deployments[deployment_id]
            return (
                (query.include_archived or item["archived_at"] is None)
                and (query.status is None or item["status"] == query.status)
                and (query.agent_id is None or item["agent"]["id"] == query.agent_id)
                and (not bounded or in_bounds(self._created[deployment_id], query.created))
            )

        ids, more = cursor_page(self._deployment_index, keep, query)
        return page_envelope([self._fresh(deployments[i]) for i in ids], ids, more)

    def list_runs(self, query: RunQuery, deployment_id: str | None = None) -> Json:
        """Run lists, newest first by ``triggered_at``; 404 for an unknown scoping deployment."""
        if deployment_id is not None:
            self.get(deployment_id)
        return self._runs.list(query, deployment_id)

    # -- seeding ------------------------------------------------------------------------

    def seed(
        self,
        count: int,
        *,
        agent_id: str | None = None,
        environment_id: str | None = None,
        status: str = "active",
        archived: bool = False,
        schedule: Mapping[str, str] | None = DEFAULT_SEED_SCHEDULE,
        name_prefix: str = "seeded-deployment",
    ) -> list[str]:
        """Create ``count`` deployments directly, oldest first, one second apart.

        Returns their ids in creation order (the last one is the newest).
        """
        if status not in ("active", "paused"):
            raise ValueError("status must be 'active' or 'paused'")
        try:
            spec = validate_schedule(None if schedule is None else dict(schedule))
        except ApiError as exc:
            raise ValueError(exc.message) from exc
        base = int(self.now())
        agent = {"id": agent_id or self.default_agent_id, "type": "agent", "version": None}
        created: list[str] = []
        for number in range(count):
            fields: Json = {
                "name": f"{name_prefix}-{len(self.deployments) + 1}",
                "description": "Seeded deployment",
                "agent": agent,
                "environment_id": environment_id or self.default_environment_id,
                "schedule": spec,
                "initial_events": [{"type": "user.message", "content": "Seeded run"}],
            }
            deployment = self._insert(fields, base - (count - 1 - number))
            if status == "paused":
                self.pause(deployment["id"])
            if archived:
                self.archive(deployment["id"])
            created.append(deployment["id"])
        return created
