"""The API's objects as frozen, keyword-only attrs classes.

These classes are the single declaration of the wire shapes: the package's cattrs
converter generates their decoders and encoders from them (``qoder_async.to_dict`` /
``to_json`` / ``from_dict``). Three rules keep them forward compatible: response fields
this SDK does not know are kept in ``extra``; an enum-like field holds the ``StrEnum``
member for a known value and the plain string for anything else; every timestamp is an
aware UTC ``datetime``.

A client decodes leniently unless made with ``strict_responses=True``: a nested part
of a response that does not fit its model is kept rather than failing the call. A
resource or initial event becomes ``UnknownResource`` / ``UnknownEvent`` holding the
raw object; any other field that does not fit holds its default (``None`` when it has
none) and its raw value is kept in the enclosing model's ``extra`` under its own key.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import attrs

from qoder_async._model_parts import (
    AgentRef,
    ContentBlock,
    DefineOutcome,
    FileResource,
    GitHubRepositoryResource,
    InitialEvent,
    MemoryStoreResource,
    Resource,
    SystemMessage,
    TextBlock,
    UnknownEvent,
    UnknownResource,
    UserMessage,
)
from qoder_async._run_models import (
    DeploymentRun,
    RunError,
    RunExtras,
    RunStatus,
    TriggerContext,
    TriggerType,
)

__all__ = [
    "AgentRef",
    "CasConfig",
    "CasSettings",
    "CasStats",
    "ContentBlock",
    "DefineOutcome",
    "Deployment",
    "DeploymentRun",
    "DeploymentStatus",
    "FileResource",
    "GitHubRepositoryResource",
    "InitialEvent",
    "MemoryStoreResource",
    "Page",
    "PausedReason",
    "Resource",
    "RunError",
    "RunExtras",
    "RunStatus",
    "Schedule",
    "ScheduleSpec",
    "SystemMessage",
    "TextBlock",
    "TriggerContext",
    "TriggerType",
    "UnknownEvent",
    "UnknownResource",
    "UserMessage",
]

T = TypeVar("T")


class DeploymentStatus(enum.StrEnum):
    """Known values of ``Deployment.status``; an unknown value is kept as a plain str.

    There is no "archived" value: archiving leaves the status as it was, so use
    ``Deployment.is_archived``.
    """

    ACTIVE = "active"
    PAUSED = "paused"


@attrs.frozen(kw_only=True)
class ScheduleSpec:
    """A schedule as sent on create or update (all three keys are always sent).

    Attributes:
        expression: Standard 5-field cron expression (``min hour dom mon dow``).
        timezone: IANA time zone the expression is read in, e.g. ``Asia/Shanghai``.
        type: Always ``"cron"``.
    """

    expression: str
    timezone: str
    type: Literal["cron"] = "cron"


@attrs.frozen(kw_only=True)
class Schedule:
    """A deployment's schedule as the API returns it.

    Attributes:
        type: ``"cron"``.
        expression: The cron expression.
        timezone: The IANA time zone.
        upcoming_runs_at: Next fire times in UTC; empty once archived, left in place by
            pause.
        last_run_at: Most recent trigger, manual runs included; ``None`` before the
            first run (the API then omits the key).
        extra: Fields this SDK does not know yet.
    """

    type: str = "cron"
    expression: str
    timezone: str
    upcoming_runs_at: tuple[datetime, ...] = ()
    last_run_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    def to_spec(self) -> ScheduleSpec:
        """The request form of this schedule, e.g. to resend it on update."""
        return ScheduleSpec(expression=self.expression, timezone=self.timezone)


@attrs.frozen(kw_only=True)
class PausedReason:
    """Why a deployment is paused.

    Attributes:
        type: ``"manual"`` after ``pause``; other values are undocumented.
        error: Details of an automatic pause, when the API gives them.
        extra: Fields this SDK does not know yet.
    """

    type: str
    error: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class CasSettings:
    """Execution settings under ``metadata.cas_config.config``.

    Attributes:
        max_retries: Retry attempts after a failed run.
        timeout_ms: Run timeout.
        max_concurrent: Runs allowed at once; a trigger beyond it is recorded ``skipped``.
        extra: Fields this SDK does not know yet.
    """

    max_retries: int | None = None
    timeout_ms: int | None = None
    max_concurrent: int | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class CasStats:
    """Server-maintained counters under ``metadata.cas_config.stats``.

    Attributes:
        total_runs: Runs triggered so far.
        total_failures: Runs that failed.
        consecutive_failures: Failures since the last success.
        next_trigger_at: Next scheduled trigger; not cleared on archive, so it may be
            stale.
        last_triggered_at: Most recent trigger; ``None`` before the first.
        extra: Fields this SDK does not know yet.
    """

    total_runs: int | None = None
    total_failures: int | None = None
    consecutive_failures: int | None = None
    next_trigger_at: datetime | None = None
    last_triggered_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class CasConfig:
    """Typed view of the reserved ``metadata["cas_config"]`` object.

    The view is decoded leniently: a value that does not fit reads as ``None`` here
    (its raw value in ``extra``) and stays available, untouched, in
    ``Deployment.metadata``.

    Attributes:
        session_strategy: Session reuse strategy, e.g. ``"new_session"``.
        config: Execution settings.
        stats: Server-maintained counters.
        extra: Fields this SDK does not know yet.
    """

    session_strategy: str | None = None
    config: CasSettings | None = None
    stats: CasStats | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Deployment:
    """A deployment: an agent, an environment, initial events and an optional schedule.

    Attributes:
        id: ``dep_…`` id.
        name: Display name (at most 256 characters); archiving appends
            ``_archived_<unix seconds>``.
        description: Free text; ``None`` when the API sends none.
        agent: The agent, always pinned to a concrete version.
        environment_id: ``env_…`` id.
        schedule: The cron schedule, or ``None`` for a manual-only deployment.
        initial_events: What every run's session starts with.
        resources: Files, repositories and memory stores mounted into each session.
        vault_ids: ``vault_…`` ids of credential vaults.
        metadata: User keys (string values) plus the server-managed ``cas_config``
            object, exactly as received; ``cas_config`` has a typed view.
        status: ``DeploymentStatus`` value, or the raw string for an unknown one. It
            does not change on archive; use ``is_archived``.
        paused_reason: Why it is paused; ``None`` unless paused.
        archived_at: When it was archived; ``None`` while live.
        created_at: Creation time.
        updated_at: Last change (bumped by update, pause, unpause and archive).
        environment_variables: ``KEY=VALUE`` pairs, when the API returns them.
        budget: Spending limit object, when the API returns one.
        type: Always ``"deployment"``.
        extra: Response fields this SDK does not know yet; in lenient mode also the raw
            value of a field that did not fit its type (the field then holds its
            default, or ``None``).
    """

    type: Literal["deployment"] = "deployment"
    id: str
    name: str
    description: str | None
    agent: AgentRef
    environment_id: str
    schedule: Schedule | None
    initial_events: tuple[InitialEvent, ...]
    resources: tuple[Resource, ...] = ()
    vault_ids: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    status: DeploymentStatus | str
    paused_reason: PausedReason | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    environment_variables: str | None = None
    budget: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def is_archived(self) -> bool:
        """True once archived (``archived_at`` is set); ``status`` cannot tell.

        Also true when a leniently decoded response had an ``archived_at`` that did not
        parse (it is then kept in ``extra``): the server did set it.
        """
        return self.archived_at is not None or self.extra.get("archived_at") is not None

    @property
    def is_paused(self) -> bool:
        """True when paused and not archived."""
        return not self.is_archived and self.status == DeploymentStatus.PAUSED

    @property
    def cas_config(self) -> CasConfig | None:
        """Typed view of ``metadata["cas_config"]``, built on each access.

        ``None`` when the key is absent or not an object.
        """
        raw = self.metadata.get("cas_config")
        if not isinstance(raw, Mapping):
            return None
        # Imported here: the converter module imports this one.
        from qoder_async._serde import structure

        return structure(dict(raw), CasConfig, strict=False)


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list endpoint.

    Attributes:
        data: The items, in the API's order (newest first).
        first_id: Id of the first item; ``None`` on an empty page.
        last_id: Id the API gives as the page's end. Not necessarily ``data[-1].id``:
            the published examples are trimmed, so never derive one from the other.
        has_more: More items exist in the paging direction.
        next_page: Opaque cursor for the next page, when the API sends one.
        extra: Envelope fields this SDK does not know yet.
    """

    data: tuple[T, ...]
    first_id: str | None
    last_id: str | None
    has_more: bool
    next_page: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def next_cursor(self) -> str | None:
        """Cursor for the next page, or ``None`` when this is the last one.

        ``next_page`` when the API sent one, else ``last_id`` if ``has_more``.
        """
        if self.next_page:
            return self.next_page
        if self.has_more and self.last_id:
            return self.last_id
        return None
