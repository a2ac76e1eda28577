"""Deployment run models; import them from ``qoder_async.models``."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from qoder_async._model_parts import AgentRef

__all__ = ["DeploymentRun", "RunError", "RunExtras", "RunStatus", "TriggerContext", "TriggerType"]


class RunStatus(enum.StrEnum):
    """Known values of ``DeploymentRun.status``; an unknown value is kept as a plain str."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def is_terminal(self) -> bool:
        """True once the run can no longer change (completed, failed or skipped)."""
        return self in _TERMINAL


_TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.SKIPPED})


class TriggerType(enum.StrEnum):
    """Known values of ``TriggerContext.type``; an unknown value is kept as a plain str."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    RETRY = "retry"


@attrs.frozen(kw_only=True)
class RunError:
    """Why a run failed.

    Attributes:
        type: Error category; the API does not document the vocabulary.
        message: Human-readable text; do not parse it.
        extra: Fields this SDK does not know yet.
    """

    type: str
    message: str
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class TriggerContext:
    """What started a run.

    Attributes:
        type: ``manual`` (``POST …/run``), ``schedule`` (cron) or ``retry`` (automatic).
        extra: Fields this SDK does not know yet (e.g. a scheduled time).
    """

    type: TriggerType | str
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class RunExtras:
    """Execution details of a run (``cas_run_extras`` on the wire).

    Attributes:
        attempt: 1-based attempt number; retries count up.
        turn_id: ``turn_…`` id of the session turn, once there is one.
        started_at: When execution started, once it has.
        extra: Fields this SDK does not know yet.
    """

    attempt: int
    turn_id: str | None = None
    started_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class DeploymentRun:
    """One execution of a deployment.

    Attributes:
        id: ``drun_…`` id.
        deployment_id: The deployment it belongs to.
        agent: The agent version this run used.
        status: ``RunStatus`` value, or the raw string for a status this SDK does not
            know.
        error: Why it failed; ``None`` unless ``status`` is ``failed``.
        trigger_context: What started it.
        triggered_at: When it was triggered (run lists sort on this, newest first).
        created_at: When it was recorded.
        session_id: The session it runs in; absent until a session exists (pending or
            skipped runs, early failures).
        completed_at: When it reached a terminal state.
        duration_ms: How long it took, for completed runs.
        cas_run_extras: Execution details, when the API sends them.
        type: Always ``"deployment_run"``.
        extra: Response fields this SDK does not know yet; in lenient mode also the raw
            value of a field that did not fit its type (the field then holds its
            default, or ``None``).
    """

    type: Literal["deployment_run"] = "deployment_run"
    id: str
    deployment_id: str
    agent: AgentRef
    status: RunStatus | str
    error: RunError | None
    trigger_context: TriggerContext
    triggered_at: datetime
    created_at: datetime
    session_id: str | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    cas_run_extras: RunExtras | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def is_terminal(self) -> bool:
        """True when the run is completed, failed or skipped (unknown statuses: False)."""
        return self.status in _TERMINAL
