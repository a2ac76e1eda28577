"""Decoder for ``Deployment`` and its parts; ``_serde`` is the way in."""

from __future__ import annotations

from typing import Any

from qoder_async._decode import (
    DecodeFailure,
    agent_ref,
    array,
    describe,
    enum_or_str,
    expect_type,
    extra_of,
    items,
    mapping_or_empty,
    nested,
    not_object,
    opt_int,
    opt_mapping,
    opt_nested,
    opt_str,
    opt_ts,
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
