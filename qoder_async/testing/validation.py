"""Request validation for the fake server: the bodies of create and update.

Every rule documented in the wire reference answers ``400 invalid_request_error`` with a
``param`` naming the offending field. The fake is deliberately strict where the real API
is silent (unknown body fields are rejected) so that client typos surface in tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from qoder_async.testing._common import ApiError
from qoder_async.testing.cron import CronError, load_timezone, parse_cron

__all__ = [
    "check_metadata_size",
    "parse_json_body",
    "validate_create",
    "validate_metadata",
    "validate_schedule",
    "validate_update",
]

MAX_NAME = 256
MAX_EVENTS = 50
MAX_VAULTS = 50
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
EVENT_TYPES = frozenset({"user.message", "user.define_outcome", "system.message"})
RESOURCE_REQUIRED = {
    "file": ("file_id",),
    "github_repository": ("url",),
    "memory_store": ("memory_store_id",),
}
CAS_CONFIG_INTS = {"max_retries": 0, "timeout_ms": 1, "max_concurrent": 1}  # name -> minimum
DEPLOYMENT_FIELDS = frozenset(
    {
        "name",
        "description",
        "agent",
        "environment_id",
        "schedule",
        "initial_events",
        "resources",
        "vault_ids",
        "metadata",
        "environment_variables",
        "budget",
    }
)
REQUIRED_ON_CREATE = ("name", "agent", "environment_id", "initial_events")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INVALID_JSON = "Request body must be valid JSON."


def parse_json_body(raw: bytes, *, required: bool) -> Any:
    """Decode a request body; an empty body is ``None`` unless the endpoint needs one."""
    if not raw.strip() and not required:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError.bad_request(_INVALID_JSON) from exc


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(value: Any, param: str, *, max_len: int | None = None, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ApiError.bad_request(f"{param} must be a string", param)
    if not empty and not value.strip():
        raise ApiError.bad_request(f"{param} must not be empty", param)
    if max_len is not None and len(value) > max_len:
        raise ApiError.bad_request(f"{param} must be at most {max_len} characters", param)
    return value


def _agent(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"id": _string(value, "agent"), "type": "agent", "version": None}
    if not isinstance(value, dict):
        raise ApiError.bad_request("agent must be a string or an agent reference object", "agent")
    if value.get("type") != "agent":
        raise ApiError.bad_request('agent.type must be "agent"', "agent.type")
    version = value.get("version")
    if not _is_int(version) or version < 1:
        raise ApiError.bad_request("agent.version must be a positive integer", "agent.version")
    unknown = set(value) - {"id", "type", "version"}
    if unknown:
        raise ApiError.bad_request(f"Unknown field: agent.{min(unknown)}", f"agent.{min(unknown)}")
    return {"id": _string(value.get("id"), "agent.id"), "type": "agent", "version": version}


def validate_schedule(value: Any) -> dict[str, str] | None:
    """A full ``{type, expression, timezone}`` schedule, or None for manual-only."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError.bad_request("schedule must be an object", "schedule")
    for key in ("type", "expression", "timezone"):
        if key not in value:
            raise ApiError.bad_request(f"Missing required field: schedule.{key}", f"schedule.{key}")
    unknown = set(value) - {"type", "expression", "timezone", "upcoming_runs_at", "last_run_at"}
    if unknown:
        param = f"schedule.{min(unknown)}"
        raise ApiError.bad_request(f"Unknown field: {param}", param)
    if value["type"] != "cron":
        raise ApiError.bad_request('schedule.type must be "cron"', "schedule.type")
    expression = _string(value["expression"], "schedule.expression")
    timezone = _string(value["timezone"], "schedule.timezone")
    try:
        parse_cron(expression)
    except CronError as exc:
        raise ApiError.bad_request(
            f"Invalid cron expression: {exc}", "schedule.expression"
        ) from exc
    try:
        load_timezone(timezone)
    except CronError as exc:
        raise ApiError.bad_request(f"Invalid timezone: {timezone!r}", "schedule.timezone") from exc
    return {"expression": expression, "timezone": timezone, "type": "cron"}


def _initial_events(value: Any) -> list[Any]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_EVENTS:
        raise ApiError.bad_request(
            f"initial_events must be an array of 1 to {MAX_EVENTS} events", "initial_events"
        )
    for index, event in enumerate(value):
        param = f"initial_events[{index}]"
        if not isinstance(event, dict):
            raise ApiError.bad_request(f"{param} must be an object", param)
        if event.get("type") not in EVENT_TYPES:
            allowed = ", ".join(sorted(EVENT_TYPES))
            raise ApiError.bad_request(f"{param}.type must be one of {allowed}", f"{param}.type")
    return value


def _resources(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ApiError.bad_request("resources must be an array", "resources")
    stored: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        param = f"resources[{index}]"
        if not isinstance(item, dict) or item.get("type") not in RESOURCE_REQUIRED:
            raise ApiError.bad_request(
                f"{param}.type must be one of {', '.join(sorted(RESOURCE_REQUIRED))}",
                f"{param}.type",
            )
        for key in RESOURCE_REQUIRED[item["type"]]:
            _string(item.get(key), f"{param}.{key}")
        # The repository token is write-only: the API never returns it.
        stored.append({k: v for k, v in item.items() if k != "authorization_token"})
    return stored


def _vault_ids(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_VAULTS:
        raise ApiError.bad_request(
            f"vault_ids must be an array of at most {MAX_VAULTS}", "vault_ids"
        )
    for index, item in enumerate(value):
        _string(item, f"vault_ids[{index}]")
    return value


def _cas_config(value: Any) -> dict[str, Any]:
    """Client-settable parts of ``metadata.cas_config``; ``stats`` is server-owned and ignored."""
    if not isinstance(value, dict):
        raise ApiError.bad_request("metadata.cas_config must be an object", "metadata.cas_config")
    result: dict[str, Any] = {}
    if "session_strategy" in value:
        result["session_strategy"] = _string(
            value["session_strategy"], "metadata.cas_config.session_strategy"
        )
    config = value.get("config")
    if config is not None:
        if not isinstance(config, dict):
            raise ApiError.bad_request(
                "metadata.cas_config.config must be an object", "metadata.cas_config.config"
            )
        checked: dict[str, int] = {}
        for key, item in config.items():
            param = f"metadata.cas_config.config.{key}"
            if key not in CAS_CONFIG_INTS:
                raise ApiError.bad_request(f"Unknown field: {param}", param)
            if not _is_int(item) or item < CAS_CONFIG_INTS[key]:
                raise ApiError.bad_request(
                    f"{param} must be an integer >= {CAS_CONFIG_INTS[key]}", param
                )
            checked[key] = item
        result["config"] = checked
    return result


def validate_metadata(value: Any, *, patch: bool) -> dict[str, Any]:
    """Check a metadata object; in a patch a ``null`` value means "delete this key"."""
    if not isinstance(value, dict):
        raise ApiError.bad_request("metadata must be an object", "metadata")
    for key, item in value.items():
        if key == "cas_config":
            if item is None:
                raise ApiError.bad_request(
                    "metadata.cas_config cannot be removed", "metadata.cas_config"
                )
            value[key] = _cas_config(item)
            continue
        if not key or len(key) > MAX_METADATA_KEY:
            raise ApiError.bad_request(
                f"metadata keys must be 1 to {MAX_METADATA_KEY} characters", "metadata"
            )
        if item is None and patch:
            continue
        _string(item, f"metadata.{key}", max_len=MAX_METADATA_VALUE, empty=True)
    if not patch:  # a patch is checked after it is merged into the stored metadata
        check_metadata_size(value)
    return value


def check_metadata_size(metadata: Mapping[str, Any]) -> None:
    """At most 16 user keys (``cas_config`` does not count)."""
    if sum(1 for key in metadata if key != "cas_config") > MAX_METADATA_KEYS:
        raise ApiError.bad_request(
            f"metadata may have at most {MAX_METADATA_KEYS} keys", "metadata"
        )


def _environment_variables(value: Any) -> str | None:
    if value is None:
        return None
    text = _string(value, "environment_variables", empty=True)
    for entry in re.split(r"[;\n]", text):
        if not entry.strip():
            continue
        name, eq, _ = entry.strip().partition("=")
        if not eq or not _ENV_NAME.fullmatch(name):
            raise ApiError.bad_request(
                "environment_variables must be KEY=VALUE pairs", "environment_variables"
            )
    return text


def _budget(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise ApiError.bad_request("budget must be an object", "budget")
    return value


def _fields(body: Any, *, create: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError.bad_request("Request body must be a JSON object.")
    unknown = set(body) - DEPLOYMENT_FIELDS
    if unknown:
        raise ApiError.bad_request(f"Unknown field: {min(unknown)}", min(unknown))
    if create:
        for key in REQUIRED_ON_CREATE:
            if key not in body or body[key] is None:
                raise ApiError.bad_request(f"Missing required field: {key}", key)
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "name":
            out[key] = _string(value, "name", max_len=MAX_NAME)
        elif key == "description":
            out[key] = None if value is None else _string(value, "description", empty=True)
        elif key == "agent":
            out[key] = _agent(value)
        elif key == "environment_id":
            out[key] = _string(value, "environment_id")
        elif key == "schedule":
            out[key] = validate_schedule(value)
        elif key == "initial_events":
            out[key] = _initial_events(value)
        elif key == "resources":
            out[key] = [] if value is None and create else _resources(value)
        elif key == "vault_ids":
            out[key] = [] if value is None and create else _vault_ids(value)
        elif key == "metadata":
            out[key] = (
                {} if value is None and create else validate_metadata(value, patch=not create)
            )
        elif key == "environment_variables":
            out[key] = _environment_variables(value)
        else:
            out[key] = _budget(value)
    return out


def validate_create(body: Any) -> dict[str, Any]:
    """The checked fields of a create request (agent version may still be None = latest)."""
    return _fields(body, create=True)


def validate_update(body: Any) -> dict[str, Any]:
    """The checked fields of an update (merge-patch: only the keys present change)."""
    return _fields(body, create=False)
