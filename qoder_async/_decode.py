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

The models that come by the thousand (deployments and runs) have two decoders: a fast
path, written out inline for the well-formed shape the API sends, and the careful one
built from the helpers. The fast path accepts a value only where the careful decoder
would return the very same model; on anything unusual (a missing key, an unexpected
type, a timestamp that is not plain UTC) it gives up, and the careful decoder decodes
the value again and, if it is wrong, says where. So every result and every
``DecodeFailure`` is the careful decoder's.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import attrs

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
    "Unusual",
    "agent_ref",
    "array",
    "describe",
    "enum_or_str",
    "expect_type",
    "extra_of",
    "fast_agent_ref",
    "field_error",
    "from_isoformat",
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
    "positional_builder",
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


class Unusual(Exception):
    """Raised by a fast path to hand a value over to its careful decoder."""


from_isoformat = datetime.fromisoformat
"""The C parser behind ``parse_timestamp``; fast paths call it directly and accept its
result only when its ``tzinfo`` is ``UTC`` (what ``parse_timestamp`` returns as is)."""


def positional_builder(cls: type[T]) -> Callable[..., T]:
    """A function making a ``cls`` from all its fields, positionally, in attrs' order.

    Fast paths build several models per item and thousands of items per page; the
    keyword-only attrs ``__init__`` of a frozen class spends more on matching up to 19
    keywords and on ``object.__setattr__`` than on the data. This sets the slots
    directly, which builds an equal, equally frozen object. It is only done for plain
    classes: if a field has a validator or converter, or the class an attrs init hook,
    the builder calls the real constructor, so it can never skip a check added later.
    """
    fields = attrs.fields(cast(Any, cls))
    names = [field.name for field in fields]
    plain = (
        all(f.init and f.validator is None and f.converter is None for f in fields)
        and not hasattr(cls, "__attrs_pre_init__")
        and not hasattr(cls, "__attrs_post_init__")
        and all(isinstance(cls.__dict__.get(n), types.MemberDescriptorType) for n in names)
    )
    if not plain:
        aliases = [field.alias for field in fields]

        def build(*values: Any) -> T:
            return cls(**dict(zip(aliases, values, strict=True)))

        return build
    # Generated like attrs' own __init__: one slot store per field, no loop.
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    namespace.update({f"_set_{name}": cls.__dict__[name].__set__ for name in names})
    stores = "".join(f"    _set_{name}(self, {name})\n" for name in names)
    source = f"def build({', '.join(names)}):\n    self = _new(_cls)\n{stores}    return self\n"
    exec(compile(source, f"<positional builder {cls.__qualname__}>", "exec"), namespace)
    return cast("Callable[..., T]", namespace["build"])


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


_make_agent = positional_builder(AgentRef)


def fast_agent_ref(obj: Any) -> AgentRef:
    """``agent_ref`` for the usual shape; raises (anything) where it is not."""
    if type(obj) is not dict:
        raise Unusual
    agent_id = obj["id"]
    version = obj["version"]
    kind = obj.get("type")
    if type(agent_id) is not str or type(version) is not int:
        raise Unusual
    if type(kind) is not str:
        if kind is not None:
            raise Unusual
        kind = "agent"
    elif not kind:
        kind = "agent"
    extra = {} if obj.keys() <= _AGENT_KEYS else extra_of(obj, _AGENT_KEYS)
    return _make_agent(agent_id, kind, version, extra)


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
    if type(obj) is dict:
        try:
            return _fast_run(obj)
        except Exception:
            # Unusual: the careful decoder decides, outside this handler so that its
            # DecodeFailure carries no unrelated exception as context.
            pass
    return _careful_run(obj)


_make_run = positional_builder(DeploymentRun)
_make_trigger = positional_builder(TriggerContext)
_make_run_extras = positional_builder(RunExtras)


def _fast_ts(value: Any) -> datetime:
    parsed = from_isoformat(value)
    if parsed.tzinfo is not UTC:
        raise Unusual
    return parsed


def _fast_run(obj: dict[str, Any]) -> DeploymentRun:
    if obj.get("type", "deployment_run") != "deployment_run":
        raise Unusual
    run_id = obj["id"]
    deployment_id = obj["deployment_id"]
    status = obj["status"]
    if type(run_id) is not str or type(deployment_id) is not str or type(status) is not str:
        raise Unusual
    error = obj.get("error")
    if error is not None:
        error = _run_error(error)
    trigger = obj["trigger_context"]
    if type(trigger) is not dict:
        raise Unusual
    trigger_type = trigger["type"]
    if type(trigger_type) is not str:
        raise Unusual
    session_id = obj.get("session_id")
    if session_id is not None and type(session_id) is not str:
        raise Unusual
    completed_at = obj.get("completed_at")
    if completed_at is not None:
        completed_at = _fast_ts(completed_at)
    duration_ms = obj.get("duration_ms")
    if duration_ms is not None and type(duration_ms) is not int:
        raise Unusual
    extras = obj.get("cas_run_extras")
    if extras is not None:
        if type(extras) is not dict:
            raise Unusual
        attempt = extras["attempt"]
        turn_id = extras.get("turn_id")
        started_at = extras.get("started_at")
        if type(attempt) is not int or (turn_id is not None and type(turn_id) is not str):
            raise Unusual
        if started_at is not None:
            started_at = _fast_ts(started_at)
        extras = _make_run_extras(
            attempt,
            turn_id,
            started_at,
            {} if extras.keys() <= _RUN_EXTRAS_KEYS else extra_of(extras, _RUN_EXTRAS_KEYS),
        )
    # Positional, in DeploymentRun's field order (see positional_builder).
    return _make_run(
        "deployment_run",  # type
        run_id,  # id
        deployment_id,  # deployment_id
        fast_agent_ref(obj["agent"]),  # agent
        _RUN_STATUS.get(status, status),  # status
        error,  # error
        _make_trigger(  # trigger_context
            _TRIGGER_TYPE.get(trigger_type, trigger_type),
            {} if trigger.keys() <= _TRIGGER_KEYS else extra_of(trigger, _TRIGGER_KEYS),
        ),
        _fast_ts(obj["triggered_at"]),  # triggered_at
        _fast_ts(obj["created_at"]),  # created_at
        session_id,  # session_id
        completed_at,  # completed_at
        duration_ms,  # duration_ms
        extras,  # cas_run_extras
        {} if obj.keys() <= _RUN_KEYS else extra_of(obj, _RUN_KEYS),  # extra
    )


def _careful_run(obj: Any) -> DeploymentRun:
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
    raw = obj["data"]
    try:
        if type(raw) is list:
            try:
                data = tuple(map(decode_item, raw))
            except DecodeFailure:
                # Again item by item, only to name the failing index: failures are rare,
                # and the per-item bookkeeping is not worth paying on every page.
                data = items(decode_item, raw)
        else:
            data = items(decode_item, raw)
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
