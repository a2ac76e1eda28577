# mypy: disallow-subclassing-any=False
"""A msgspec mirror of ``Deployment``: the lower bound for typed decoding in Python.

Same fields and types as ``qoder_async.models.Deployment``, decoded straight from JSON
bytes by msgspec's C decoder. Unknown keys are dropped (msgspec cannot keep them), so
it does a little less work than the others. Needs the ``bench`` extra.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec  # type: ignore[import-not-found, unused-ignore]

# The structs are not ``frozen=True``: without msgspec installed, mypy sees ``Struct``
# as ``Any`` and rejects class keywords, and this module must type-check either way.

__all__ = ["PageStruct", "page_decoder"]


class AgentStruct(msgspec.Struct):
    """``AgentRef``."""

    id: str
    version: int
    type: str = "agent"


class TextBlockStruct(msgspec.Struct):
    """A text content block."""

    text: str
    type: str = "text"


class EventStruct(msgspec.Struct):
    """An initial event."""

    type: str
    content: str | list[TextBlockStruct] | None = None


class ScheduleStruct(msgspec.Struct):
    """A returned cron schedule."""

    expression: str
    timezone: str
    type: str = "cron"
    upcoming_runs_at: list[datetime] = []
    last_run_at: datetime | None = None


class PausedReasonStruct(msgspec.Struct):
    """Why a deployment is paused."""

    type: str
    error: dict[str, Any] | None = None


class DeploymentStruct(msgspec.Struct):
    """``Deployment``."""

    id: str
    name: str
    description: str | None
    agent: AgentStruct
    environment_id: str
    schedule: ScheduleStruct | None
    initial_events: list[EventStruct]
    status: str
    paused_reason: PausedReasonStruct | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    type: str = "deployment"
    resources: list[dict[str, Any]] = []
    vault_ids: list[str] = []
    metadata: dict[str, Any] = {}
    environment_variables: str | None = None
    budget: dict[str, Any] | None = None


class PageStruct(msgspec.Struct):
    """A list page of deployments."""

    data: list[DeploymentStruct]
    first_id: str | None
    last_id: str | None
    has_more: bool
    next_page: str | None = None


page_decoder: msgspec.json.Decoder[PageStruct] = msgspec.json.Decoder(PageStruct)
"""Decodes JSON bytes straight into a ``PageStruct``."""
