"""The values enum-like parameters accept, as ``Literal`` types and as runtime sets.

Each set is derived from its ``Literal``, so the annotation that lets ``mypy --strict``
reject ``list(status="archivd")`` and the check that rejects it at run time cannot drift
apart. The model ``StrEnum`` members are accepted too: ``DeploymentStatus.PAUSED`` is
the string ``"paused"``.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "DEPLOYMENT_STATUSES",
    "RUN_STATUSES",
    "TRIGGER_TYPES",
    "DeploymentStatusFilter",
    "RunStatusFilter",
    "TriggerTypeFilter",
]

DeploymentStatusFilter = Literal["active", "paused"]
"""``deployments.list(status=...)``: archived deployments are selected with
``include_archived``, not a status (archiving leaves the status as it was)."""

RunStatusFilter = Literal["pending", "running", "completed", "failed", "skipped"]
"""``runs.list(status=...)`` and ``deployment_runs.list(status=...)``."""

TriggerTypeFilter = Literal["manual", "schedule", "retry"]
"""``deployment_runs.list(trigger_type=...)``."""

DEPLOYMENT_STATUSES: frozenset[str] = frozenset(get_args(DeploymentStatusFilter))
RUN_STATUSES: frozenset[str] = frozenset(get_args(RunStatusFilter))
TRIGGER_TYPES: frozenset[str] = frozenset(get_args(TriggerTypeFilter))
