"""Decoding toolkit plus the run and page decoders; ``_serde`` registers them.

Why not cattrs' generated structure hooks: they neither keep unknown keys nor reject
wrong scalar types (the default ``str`` hook turns ``5`` into ``"5"``), and every model
here needs both. Written out they also avoid the generic dispatch per field, which
matters when a list call decodes thousands of items.

Each decoder takes the parsed value and either returns a model or raises
``DecodeFailure`` whose ``path`` says where the problem is; the small helpers below do
the type checks and build those paths (``_decode_deployment`` uses them too). The input
is not copied: raw mappings kept in a model (``metadata``, ``extra`` values, unknown
events) are the input's own objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from qoder_async._model_parts import parse_timestamp
from qoder_async.models import (
    AgentRef,
    DeploymentRun,
    Page,
    RunError,
    RunExtras,
    RunStatus,
    TriggerContext,
    TriggerType,
)

__all__ = [
    "DecodeFailure",
    "agent_ref",
    "array",
    "describe",
    "enum_or_str",
    "expect_type",
    "extra_of",
    "field_error",
    "items",
    "mapping_or_empty",
    "nested",
    "not_object",
    "opt_int",
    "opt_mapping",
    "opt_nested",
    "opt_str",
    "opt_ts",
    "page",
    "req_int",
    "req_str",
    "req_ts",
    "run",
    "string",
    "timestamp",
]

T = TypeVar("T")


class DecodeFailure(ValueError):
    """A response body does not have the shape of the expected model.

    Attributes:
        reason: What is wrong, e.g. ``missing required field``.
        path: Where, e.g. ``deployment.initial_events[0].content``.
    """

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (DecodeFailure, (self.reason, self.path))


def describe(value: Any) -> str:
    """Short JSON-flavoured description of a value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def field_error(obj: dict[str, Any], key: str, expected: str) -> DecodeFailure:
    """The failure for ``obj[key]``: missing, or not ``expected``."""
    if key not in obj:
        return DecodeFailure("missing required field", f".{key}")
    return DecodeFailure(f"expected {expected}, got {describe(obj[key])}", f".{key}")


def not_object(value: Any) -> DecodeFailure:
    """The failure for a value that should have been a JSON object."""
    return DecodeFailure(f"expected an object, got {describe(value)}")


def req_str(obj: dict[str, Any], key: str) -> str:
    """``obj[key]`` as a required string."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    raise field_error(obj, key, "a string")


def opt_str(obj: dict[str, Any], key: str) -> str | None:
    """``obj[key]`` as a string, ``None`` when null or absent."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise field_error(obj, key, "a string or null")


def req_int(obj: dict[str, Any], key: str) -> int:
    """``obj[key]`` as a required integer (booleans are not integers)."""
    value = obj.get(key)
    if type(value) is int:
        return value
    raise field_error(obj, key, "an integer")


def opt_int(obj: dict[str, Any], key: str) -> int | None:
    """``obj[key]`` as an integer, ``None`` when null or absent."""
    value = obj.get(key)
    if value is None or type(value) is int:
        return value
    raise field_error(obj, key, "an integer or null")


def timestamp(value: Any) -> datetime:
    """An RFC 3339 string as an aware UTC datetime."""
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            pass
    raise DecodeFailure(f"expected an RFC 3339 timestamp, got {describe(value)}")


def req_ts(obj: dict[str, Any], key: str) -> datetime:
    """``obj[key]`` as a required timestamp."""
    value = obj.get(key)
    if value is None:
        raise field_error(obj, key, "a timestamp")
    try:
        return timestamp(value)
    except DecodeFailure as exc:
        exc.path = f".{key}"
        raise


def opt_ts(obj: dict[str, Any], key: str) -> datetime | None:
    """``obj[key]`` as a timestamp, ``None`` when null or absent."""
    value = obj.get(key)
    if value is None:
        return None
    try:
        return timestamp(value)
    except DecodeFailure as exc:
        exc.path = f".{key}"
        raise


def mapping_or_empty(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """``obj[key]`` as an object; null or absent reads as empty."""
    value = obj.get(key)
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    raise field_error(obj, key, "an object")


def opt_mapping(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    """``obj[key]`` as an object, ``None`` when null or absent."""
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise field_error(obj, key, "an object or null")


def extra_of(obj: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The keys of ``obj`` a model does not know, for its ``extra``."""
    if obj.keys() <= known:
        return {}
    return {k: v for k, v in obj.items() if k not in known}


def nested(decode: Callable[[Any], T], obj: dict[str, Any], key: str) -> T:
    """``decode(obj[key])`` for a required key, failures prefixed with the key."""
    if key not in obj:
        raise DecodeFailure("missing required field", f".{key}")
    try:
        return decode(obj[key])
    except DecodeFailure as exc:
        exc.path = f".{key}{exc.path}"
        raise


def opt_nested(decode: Callable[[Any], T], obj: dict[str, Any], key: str) -> T | None:
    """Like ``nested`` but ``None`` when the value is null or absent."""
    value = obj.get(key)
    if value is None:
        return None
    try:
        return decode(value)
    except DecodeFailure as exc:
        exc.path = f".{key}{exc.path}"
        raise


def items(decode: Callable[[Any], T], value: Any) -> tuple[T, ...]:
    """Decode each item of a JSON array, failures prefixed with the index."""
    if not isinstance(value, list):
        raise DecodeFailure(f"expected an array, got {describe(value)}")
    out = []
    for index, item in enumerate(value):
        try:
            out.append(decode(item))
        except DecodeFailure as exc:
            exc.path = f"[{index}]{exc.path}"
            raise
    return tuple(out)


def array(decode: Callable[[Any], T], obj: dict[str, Any], key: str) -> tuple[T, ...]:
    """``items`` of ``obj[key]``; null or absent reads as empty."""
    value = obj.get(key)
    if value is None:
        # Go services often encode an empty slice as null; treat it as empty.
        return ()
    try:
        return items(decode, value)
    except DecodeFailure as exc:
        exc.path = f".{key}{exc.path}"
        raise


def string(value: Any) -> str:
    """A value that must be a string (an array item, say)."""
    if isinstance(value, str):
        return value
    raise DecodeFailure(f"expected a string, got {describe(value)}")


def enum_or_str(table: Mapping[str, T], obj: dict[str, Any], key: str) -> T | str:
    """``obj[key]`` as a known enum member, or the plain string when unknown."""
    value = req_str(obj, key)
    return table.get(value, value)


def expect_type(obj: dict[str, Any], expected: str) -> str:
    """Check the ``type`` discriminator when present."""
    value = obj.get("type", expected)
    if value != expected:
        raise DecodeFailure(f"expected {expected!r}, got {describe(value)}", ".type")
    return expected


_AGENT_KEYS = frozenset({"id", "type", "version"})


def agent_ref(obj: Any) -> AgentRef:
    """Decode an ``AgentRef``."""
    if not isinstance(obj, dict):
        raise not_object(obj)
    return AgentRef(
        id=req_str(obj, "id"),
        type=opt_str(obj, "type") or "agent",
        version=req_int(obj, "version"),
        extra=extra_of(obj, _AGENT_KEYS),
    )


_RUN_ERROR_KEYS = frozenset({"type", "message"})


def _run_error(obj: Any) -> RunError:
    if not isinstance(obj, dict):
        raise not_object(obj)
    return RunError(
        type=req_str(obj, "type"),
        message=req_str(obj, "message"),
        extra=extra_of(obj, _RUN_ERROR_KEYS),
    )


_TRIGGER_TYPE = {member.value: member for member in TriggerType}
_TRIGGER_KEYS = frozenset({"type"})


def _trigger(obj: Any) -> TriggerContext:
    if not isinstance(obj, dict):
        raise not_object(obj)
    return TriggerContext(
        type=enum_or_str(_TRIGGER_TYPE, obj, "type"), extra=extra_of(obj, _TRIGGER_KEYS)
    )


_RUN_EXTRAS_KEYS = frozenset({"attempt", "turn_id", "started_at"})


def _run_extras(obj: Any) -> RunExtras:
    if not isinstance(obj, dict):
        raise not_object(obj)
    return RunExtras(
        attempt=req_int(obj, "attempt"),
        turn_id=opt_str(obj, "turn_id"),
        started_at=opt_ts(obj, "started_at"),
        extra=extra_of(obj, _RUN_EXTRAS_KEYS),
    )


_RUN_STATUS = {member.value: member for member in RunStatus}
_RUN_KEYS = frozenset(
    {
        "type", "id", "deployment_id", "agent", "status", "error", "trigger_context",
        "triggered_at", "created_at", "session_id", "completed_at", "duration_ms",
        "cas_run_extras",
    }
)  # fmt: skip


def run(obj: Any) -> DeploymentRun:
    """Decode a ``DeploymentRun``."""
    if not isinstance(obj, dict):
        raise not_object(obj)
    return DeploymentRun(
        type=expect_type(obj, "deployment_run"),
        id=req_str(obj, "id"),
        deployment_id=req_str(obj, "deployment_id"),
        agent=nested(agent_ref, obj, "agent"),
        status=enum_or_str(_RUN_STATUS, obj, "status"),
        error=opt_nested(_run_error, obj, "error"),
        trigger_context=nested(_trigger, obj, "trigger_context"),
        triggered_at=req_ts(obj, "triggered_at"),
        created_at=req_ts(obj, "created_at"),
        session_id=opt_str(obj, "session_id"),
        completed_at=opt_ts(obj, "completed_at"),
        duration_ms=opt_int(obj, "duration_ms"),
        cas_run_extras=opt_nested(_run_extras, obj, "cas_run_extras"),
        extra=extra_of(obj, _RUN_KEYS),
    )


_PAGE_KEYS = frozenset({"data", "first_id", "last_id", "has_more", "next_page"})


def page(obj: Any, decode_item: Callable[[Any], T]) -> Page[T]:
    """Decode a list envelope, each item with ``decode_item``."""
    if not isinstance(obj, dict):
        raise not_object(obj)
    if "data" not in obj:
        raise DecodeFailure("missing required field", ".data")
    try:
        data = items(decode_item, obj["data"])
    except DecodeFailure as exc:
        exc.path = f".data{exc.path}"
        raise
    has_more = obj.get("has_more")
    if type(has_more) is not bool:
        raise field_error(obj, "has_more", "a boolean")
    return Page(
        data=data,
        first_id=opt_str(obj, "first_id"),
        last_id=opt_str(obj, "last_id"),
        has_more=has_more,
        next_page=opt_str(obj, "next_page"),
        extra=extra_of(obj, _PAGE_KEYS),
    )
