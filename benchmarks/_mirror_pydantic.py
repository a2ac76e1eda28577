# mypy: disallow-subclassing-any=False
"""A pydantic v2 mirror of ``Deployment``: how an httpx + pydantic client decodes a page.

The fields, nesting and types follow ``qoder_async.models.Deployment`` (timestamps as
``datetime``, the agent, schedule and events as nested models, unknown keys kept), so
``model_validate_json`` does the same work our decoder does. Needs the ``bench`` extra.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter  # type: ignore[import-not-found, unused-ignore]

__all__ = ["PageModel", "page_adapter"]


class _Model(BaseModel):
    # Unknown fields are kept, as qoder-async keeps them in ``extra``.
    model_config = ConfigDict(extra="allow", frozen=True)


class AgentModel(_Model):
    """``AgentRef``."""

    id: str
    type: str = "agent"
    version: int


class TextBlockModel(_Model):
    """A text content block."""

    type: str = "text"
    text: str


class EventModel(_Model):
    """An initial event (user or system message, or another kind)."""

    type: str
    content: str | list[TextBlockModel] | None = None


class ScheduleModel(_Model):
    """A returned cron schedule."""

    type: str = "cron"
    expression: str
    timezone: str
    upcoming_runs_at: list[datetime] = []
    last_run_at: datetime | None = None


class PausedReasonModel(_Model):
    """Why a deployment is paused."""

    type: str
    error: dict[str, Any] | None = None


class DeploymentModel(_Model):
    """``Deployment``."""

    type: str = "deployment"
    id: str
    name: str
    description: str | None
    agent: AgentModel
    environment_id: str
    schedule: ScheduleModel | None
    initial_events: list[EventModel]
    resources: list[dict[str, Any]] = []
    vault_ids: list[str] = []
    metadata: dict[str, Any] = {}
    status: str
    paused_reason: PausedReasonModel | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    environment_variables: str | None = None
    budget: dict[str, Any] | None = None


class PageModel(_Model):
    """A list page of deployments."""

    data: list[DeploymentModel]
    first_id: str | None
    last_id: str | None
    has_more: bool
    next_page: str | None = None


page_adapter: TypeAdapter[PageModel] = TypeAdapter(PageModel)
"""Validates JSON bytes straight into a ``PageModel`` (``validate_json``)."""
