"""Decoder for ``Deployment`` and its parts; ``_serde`` is the way in."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from qoder_async._decode import (
    DecodeFailure,
    Unusual,
    agent_ref,
    array,
    describe,
    enum_or_str,
    expect_type,
    extra_of,
    fast_agent_ref,
    from_isoformat,
    items,
    mapping_or_empty,
    nested,
    not_object,
    opt_int,
    opt_mapping,
    opt_nested,
    opt_str,
    opt_ts,
    positional_builder,
    req_str,
    req_ts,
    string,
    timestamp,
)
from qoder_async.models import (
    ContentBlock,
    DefineOutcome,
    Deployment,
    DeploymentStatus,
    FileResource,
    GitHubRepositoryResource,
    InitialEvent,
    MemoryStoreResource,
    PausedReason,
    Resource,
    Schedule,
    SystemMessage,
    TextBlock,
    UnknownEvent,
    UnknownResource,
    UserMessage,
)

__all__ = ["deployment"]

_SCHEDULE_KEYS = frozenset({"type", "expression", "timezone", "upcoming_runs_at", "last_run_at"})


def _schedule(obj: Any) -> Schedule:
    if not isinstance(obj, dict):
        raise not_object(obj)
    return Schedule(
        type=req_str(obj, "type"),
        expression=req_str(obj, "expression"),
        timezone=req_str(obj, "timezone"),
        upcoming_runs_at=array(timestamp, obj, "upcoming_runs_at"),
        last_run_at=opt_ts(obj, "last_run_at"),
        extra=extra_of(obj, _SCHEDULE_KEYS),
    )


_PAUSED_KEYS = frozenset({"type", "error"})


def _paused_reason(obj: Any) -> PausedReason:
    if not isinstance(obj, dict):
        raise not_object(obj)
    return PausedReason(
        type=req_str(obj, "type"),
        error=opt_mapping(obj, "error"),
        extra=extra_of(obj, _PAUSED_KEYS),
    )


_TEXT_KEYS = frozenset({"type", "text"})


def _block(obj: Any) -> ContentBlock:
    if not isinstance(obj, dict):
        raise not_object(obj)
    kind = req_str(obj, "type")
    if kind == "text":
        return TextBlock(text=req_str(obj, "text"), extra=extra_of(obj, _TEXT_KEYS))
    return obj


def _content(value: Any) -> str | tuple[ContentBlock, ...]:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return items(_block, value)
    raise DecodeFailure(f"expected a string or an array of blocks, got {describe(value)}")


_MESSAGE_KEYS = frozenset({"type", "content"})
_OUTCOME_KEYS = frozenset({"type", "description", "rubric", "max_iterations"})


def _event(obj: Any) -> InitialEvent:
    if not isinstance(obj, dict):
        raise not_object(obj)
    kind = req_str(obj, "type")
    if kind == "user.message":
        return UserMessage(
            content=nested(_content, obj, "content"), extra=extra_of(obj, _MESSAGE_KEYS)
        )
    if kind == "system.message":
        return SystemMessage(
            content=nested(_content, obj, "content"), extra=extra_of(obj, _MESSAGE_KEYS)
        )
    if kind == "user.define_outcome":
        return DefineOutcome(
            description=req_str(obj, "description"),
            rubric=opt_mapping(obj, "rubric"),
            max_iterations=opt_int(obj, "max_iterations"),
            extra=extra_of(obj, _OUTCOME_KEYS),
        )
    return UnknownEvent(type=kind, raw=obj)


_FILE_KEYS = frozenset({"type", "file_id", "mount_path"})
_REPO_KEYS = frozenset({"type", "url", "authorization_token", "mount_path", "checkout"})
_STORE_KEYS = frozenset({"type", "memory_store_id", "access", "instructions"})


def _resource(obj: Any) -> Resource:
    if not isinstance(obj, dict):
        raise not_object(obj)
    kind = req_str(obj, "type")
    if kind == "file":
        return FileResource(
            file_id=req_str(obj, "file_id"),
            mount_path=opt_str(obj, "mount_path"),
            extra=extra_of(obj, _FILE_KEYS),
        )
    if kind == "github_repository":
        return GitHubRepositoryResource(
            url=req_str(obj, "url"),
            authorization_token=opt_str(obj, "authorization_token"),
            mount_path=opt_str(obj, "mount_path"),
            checkout=opt_mapping(obj, "checkout"),
            extra=extra_of(obj, _REPO_KEYS),
        )
    if kind == "memory_store":
        return MemoryStoreResource(
            memory_store_id=req_str(obj, "memory_store_id"),
            access=opt_str(obj, "access"),
            instructions=opt_str(obj, "instructions"),
            extra=extra_of(obj, _STORE_KEYS),
        )
    return UnknownResource(type=kind, raw=obj)


_DEPLOYMENT_STATUS = {member.value: member for member in DeploymentStatus}
_DEPLOYMENT_KEYS = frozenset(
    {
        "type", "id", "name", "description", "agent", "environment_id", "schedule",
        "initial_events", "resources", "vault_ids", "metadata", "status", "paused_reason",
        "archived_at", "created_at", "updated_at", "environment_variables", "budget",
    }
)  # fmt: skip


def deployment(obj: Any) -> Deployment:
    """Decode a ``Deployment``."""
    if type(obj) is dict:
        try:
            return _fast_deployment(obj)
        except Exception:
            # Unusual: the careful decoder decides, outside this handler so that its
            # DecodeFailure carries no unrelated exception as context.
            pass
    return _careful_deployment(obj)


# The fast path (see ``_decode``): accepts only what the careful decoder would decode to
# the very same model, and raises (anything) otherwise.

_make_deployment = positional_builder(Deployment)
_make_schedule = positional_builder(Schedule)
_make_user_message = positional_builder(UserMessage)
_make_system_message = positional_builder(SystemMessage)


def _fast_schedule(obj: Any) -> Schedule:
    if type(obj) is not dict:
        raise Unusual
    kind = obj["type"]
    expression = obj["expression"]
    timezone = obj["timezone"]
    if type(kind) is not str or type(expression) is not str or type(timezone) is not str:
        raise Unusual
    runs = obj.get("upcoming_runs_at")
    if runs is None:
        upcoming: tuple[Any, ...] = ()
    elif type(runs) is list:
        upcoming = tuple(map(from_isoformat, runs))
        for when in upcoming:
            if when.tzinfo is not UTC:
                raise Unusual
    else:
        raise Unusual
    last_run_at = obj.get("last_run_at")
    if last_run_at is not None:
        last_run_at = from_isoformat(last_run_at)
        if last_run_at.tzinfo is not UTC:
            raise Unusual
    extra = {} if obj.keys() <= _SCHEDULE_KEYS else extra_of(obj, _SCHEDULE_KEYS)
    return _make_schedule(kind, expression, timezone, upcoming, last_run_at, extra)


def _fast_event(obj: Any) -> InitialEvent:
    # A message with plain-string content is what the API echoes back; the rest goes
    # through the careful helper (whose failure sends the deployment the careful way).
    if type(obj) is dict:
        content = obj.get("content")
        if type(content) is str:
            kind = obj.get("type")
            extra = {} if obj.keys() <= _MESSAGE_KEYS else extra_of(obj, _MESSAGE_KEYS)
            if kind == "user.message":
                return _make_user_message("user.message", content, extra)
            if kind == "system.message":
                return _make_system_message("system.message", content, extra)
    return _event(obj)


def _fast_deployment(obj: dict[str, Any]) -> Deployment:
    if obj.get("type", "deployment") != "deployment":
        raise Unusual
    deployment_id = obj["id"]
    name = obj["name"]
    environment_id = obj["environment_id"]
    status = obj["status"]
    if (
        type(deployment_id) is not str
        or type(name) is not str
        or type(environment_id) is not str
        or type(status) is not str
    ):
        raise Unusual
    description = obj.get("description")
    if description is not None and type(description) is not str:
        raise Unusual
    schedule = obj.get("schedule")
    if schedule is not None:
        schedule = _fast_schedule(schedule)
    events = obj.get("initial_events")
    if events is None:
        events = ()
    elif type(events) is list:
        events = tuple(map(_fast_event, events))
    else:
        raise Unusual
    # Both are usually empty lists: no map, no loop then.
    resources = obj.get("resources")
    if type(resources) is list:
        resources = tuple(map(_resource, resources)) if resources else ()
    elif resources is None:
        resources = ()
    else:
        raise Unusual
    vault_ids = obj.get("vault_ids")
    if type(vault_ids) is list:
        if vault_ids:
            vault_ids = tuple(vault_ids)
            for vault_id in vault_ids:
                if type(vault_id) is not str:
                    raise Unusual
        else:
            vault_ids = ()
    elif vault_ids is None:
        vault_ids = ()
    else:
        raise Unusual
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        raise Unusual
    paused_reason = obj.get("paused_reason")
    if paused_reason is not None:
        paused_reason = _paused_reason(paused_reason)
    archived_at = obj.get("archived_at")
    if archived_at is not None:
        archived_at = from_isoformat(archived_at)
        if archived_at.tzinfo is not UTC:
            raise Unusual
    created_at = from_isoformat(obj["created_at"])
    updated_at = from_isoformat(obj["updated_at"])
    if created_at.tzinfo is not UTC or updated_at.tzinfo is not UTC:
        raise Unusual
    environment_variables = obj.get("environment_variables")
    if environment_variables is not None and type(environment_variables) is not str:
        raise Unusual
    budget = obj.get("budget")
    if budget is not None and type(budget) is not dict:
        raise Unusual
    # Positional, in Deployment's field order (see positional_builder).
    return _make_deployment(
        "deployment",  # type
        deployment_id,  # id
        name,  # name
        description,  # description
        fast_agent_ref(obj["agent"]),  # agent
        environment_id,  # environment_id
        schedule,  # schedule
        events,  # initial_events
        resources,  # resources
        vault_ids,  # vault_ids
        metadata,  # metadata
        _DEPLOYMENT_STATUS.get(status, status),  # status
        paused_reason,  # paused_reason
        archived_at,  # archived_at
        created_at,  # created_at
        updated_at,  # updated_at
        environment_variables,  # environment_variables
        budget,  # budget
        {} if obj.keys() <= _DEPLOYMENT_KEYS else extra_of(obj, _DEPLOYMENT_KEYS),  # extra
    )


def _careful_deployment(obj: Any) -> Deployment:
    if not isinstance(obj, dict):
        raise not_object(obj)
    return Deployment(
        type=expect_type(obj, "deployment"),
        id=req_str(obj, "id"),
        name=req_str(obj, "name"),
        description=opt_str(obj, "description"),
        agent=nested(agent_ref, obj, "agent"),
        environment_id=req_str(obj, "environment_id"),
        schedule=opt_nested(_schedule, obj, "schedule"),
        initial_events=array(_event, obj, "initial_events"),
        resources=array(_resource, obj, "resources"),
        vault_ids=array(string, obj, "vault_ids"),
        metadata=mapping_or_empty(obj, "metadata"),
        status=enum_or_str(_DEPLOYMENT_STATUS, obj, "status"),
        paused_reason=opt_nested(_paused_reason, obj, "paused_reason"),
        archived_at=opt_ts(obj, "archived_at"),
        created_at=req_ts(obj, "created_at"),
        updated_at=req_ts(obj, "updated_at"),
        environment_variables=opt_str(obj, "environment_variables"),
        budget=opt_mapping(obj, "budget"),
        extra=extra_of(obj, _DEPLOYMENT_KEYS),
    )
