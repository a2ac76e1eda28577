"""Typed, read-only snapshots of the fake server's state, for assertions in tests.

The server stores deployments and runs in their wire shape (plain dicts). These frozen
dataclasses give a test named, typed fields instead of ``state.deployments[id]["..."]``
lookups, and they never change under the test: each one is a copy taken when it was
asked for. They deliberately do not reuse the SDK's models, so the fake server stays an
independent check of the SDK rather than a mirror of it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["DeploymentView", "InjectedFault", "RunView"]


def _frozen_copy(wire: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(copy.deepcopy(dict(wire)))


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """One deployment as the fake server holds it, at the moment it was read.

    Attributes:
        id: ``dep_...``.
        name: Current name (archiving appends ``_archived_<unix time>``).
        status: ``"active"`` or ``"paused"`` (archiving keeps the status it had).
        archived: Whether the deployment is archived (``archived_at`` is set).
        archived_at: When it was archived, as the wire's ISO 8601 text, or None.
        paused_reason: ``paused_reason.type`` (``"manual"``), or None when not paused.
        agent_id: The agent it runs.
        agent_version: The pinned agent version.
        environment_id: The environment it runs in.
        schedule_expression: The cron expression, or None without a schedule.
        schedule_timezone: The schedule's IANA time zone, or None without a schedule.
        upcoming_runs_at: The next scheduled fire times (empty when none).
        created_at: Creation time as the wire's ISO 8601 text.
        updated_at: Last change as the wire's ISO 8601 text.
        wire: A read-only deep copy of the whole wire object, for any other field.
    """

    id: str
    name: str
    status: str
    archived: bool
    archived_at: str | None
    paused_reason: str | None
    agent_id: str
    agent_version: int
    environment_id: str
    schedule_expression: str | None
    schedule_timezone: str | None
    upcoming_runs_at: tuple[str, ...]
    created_at: str
    updated_at: str
    wire: Mapping[str, Any]

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> DeploymentView:
        """Snapshot a stored deployment (a wire-shaped dict)."""
        schedule = wire.get("schedule") or {}
        reason = wire.get("paused_reason")
        return cls(
            id=wire["id"],
            name=wire["name"],
            status=wire["status"],
            archived=wire["archived_at"] is not None,
            archived_at=wire["archived_at"],
            paused_reason=reason["type"] if reason else None,
            agent_id=wire["agent"]["id"],
            agent_version=wire["agent"]["version"],
            environment_id=wire["environment_id"],
            schedule_expression=schedule.get("expression"),
            schedule_timezone=schedule.get("timezone"),
            upcoming_runs_at=tuple(schedule.get("upcoming_runs_at", ())),
            created_at=wire["created_at"],
            updated_at=wire["updated_at"],
            wire=_frozen_copy(wire),
        )


@dataclass(frozen=True, slots=True)
class RunView:
    """One deployment run as the fake server holds it, at the moment it was read.

    Attributes:
        id: ``drun_...``.
        deployment_id: The deployment it belongs to.
        status: ``"running"``, ``"completed"``, ``"failed"`` or ``"skipped"``.
        trigger_type: ``"manual"`` (``POST .../run``) or ``"scheduled"``.
        triggered_at: When it was triggered, as the wire's ISO 8601 text.
        completed_at: When it finished, or None while running (and for skipped runs).
        error_message: ``error.message`` of a failed run, else None.
        wire: A read-only deep copy of the whole wire object, for any other field.
    """

    id: str
    deployment_id: str
    status: str
    trigger_type: str
    triggered_at: str
    completed_at: str | None
    error_message: str | None
    wire: Mapping[str, Any]

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> RunView:
        """Snapshot a stored run (a wire-shaped dict)."""
        error = wire.get("error")
        return cls(
            id=wire["id"],
            deployment_id=wire["deployment_id"],
            status=wire["status"],
            trigger_type=wire["trigger_context"]["type"],
            triggered_at=wire["triggered_at"],
            completed_at=wire.get("completed_at"),
            error_message=error.get("message") if error else None,
            wire=_frozen_copy(wire),
        )


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """One fault the server injected, in the order it happened.

    Attributes:
        endpoint: The endpoint name the request was for, e.g. ``"deployments.archive"``.
        kind: The fault kind, e.g. ``"reset_after"`` (see ``FAULT_KINDS``).
        deployment_id: The deployment named in the request's path, or None.
    """

    endpoint: str
    kind: str
    deployment_id: str | None
