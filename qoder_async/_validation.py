"""Checks on user arguments, run before anything is sent.

A bad argument raises ``InvalidArgumentTypeError`` (wrong kind of value, also a
``TypeError``) or ``InvalidArgumentError`` (right kind, wrong value, also a ``ValueError``)
whose message starts with the parameter's name, so the caller sees the
mistake at the call site instead of as a 400 after a network round trip. Ids are checked
strictly because they are interpolated into URL paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from qoder_async._serde import unstructure
from qoder_async.errors import InvalidArgumentError, InvalidArgumentTypeError
from qoder_async.models import (
    AgentRef,
    DefineOutcome,
    FileResource,
    GitHubRepositoryResource,
    MemoryStoreResource,
    SystemMessage,
    TextBlock,
    UnknownEvent,
    UnknownResource,
    UserMessage,
)

__all__ = [
    "agent_id",
    "boolean",
    "build_create_body",
    "build_update_body",
    "cron_expression",  # noqa: F822 - loaded on first use by __getattr__
    "deployment_id",
    "environment_id",
    "page_limit",
    "run_id",
    "time_zone",  # noqa: F822 - loaded on first use by __getattr__
]

MAX_NAME = 256
MAX_INITIAL_EVENTS = 50
MAX_VAULT_IDS = 50
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_PAGE_LIMIT = 1000
_RESERVED_METADATA = "cas_config"
_EVENT_TYPES = ("user.message", "user.define_outcome", "system.message")
_SCHEDULE_RULES = frozenset({"cron_expression", "time_zone"})


def __getattr__(name: str) -> Any:
    # The schedule checks (and zoneinfo under them) load on first use: only a create or
    # update that sets a schedule needs them, not every program importing the package.
    if name in _SCHEDULE_RULES:
        from qoder_async import _schedule_rules

        return getattr(_schedule_rules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past sys.get_int_max_str_digits() cannot be shown
        return "an integer too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return type(value).__name__


# Observed ids are 32 lowercase hex digits; a wider suffix stays forward compatible
# while still excluding everything that could change the meaning of a URL path.
_ID_SUFFIX = "[0-9a-z]{1,64}"
_ID_PATTERNS = {
    prefix: re.compile(re.escape(prefix) + _ID_SUFFIX)
    for prefix in ("dep_", "drun_", "agent_", "env_", "vault_")
}


def _id(value: Any, prefix: str, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(f"{name} must be a str, not {_kind(value)}")
    if _ID_PATTERNS[prefix].fullmatch(value) is None:
        raise InvalidArgumentError(
            f"{name} must be {prefix!r} followed by 1-64 lowercase letters or digits,"
            f" got {_show(value)}"
        )
    # A plain copy, so a str subclass cannot format differently once in a URL.
    return str.__str__(value)


def deployment_id(value: Any, *, name: str = "deployment_id") -> str:
    """Check a deployment id (``dep_…``) and return it."""
    return _id(value, "dep_", name)


def run_id(value: Any, *, name: str = "run_id") -> str:
    """Check a deployment run id (``drun_…``) and return it."""
    return _id(value, "drun_", name)


def agent_id(value: Any, *, name: str = "agent_id") -> str:
    """Check an agent id (``agent_…``) and return it."""
    return _id(value, "agent_", name)


def environment_id(value: Any, *, name: str = "environment_id") -> str:
    """Check an environment id (``env_…``) and return it."""
    return _id(value, "env_", name)


def page_limit(value: Any, *, name: str = "limit") -> int:
    """Check a page size: an int from 1 to 1000."""
    if type(value) is bool or not isinstance(value, int):
        raise InvalidArgumentTypeError(f"{name} must be an int, not {_kind(value)}")
    if not 1 <= value <= MAX_PAGE_LIMIT:
        raise InvalidArgumentError(
            f"{name} must be between 1 and {MAX_PAGE_LIMIT}, got {_show(value)}"
        )
    return int(value)


def boolean(name: str, value: Any) -> bool:
    """Check a flag is a real bool (the string ``"false"`` would be truthy)."""
    if not isinstance(value, bool):
        raise InvalidArgumentTypeError(f"{name} must be a bool, not {_kind(value)}")
    return value


def _text(value: Any, name: str, *, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(f"{name} must be a str, not {_kind(value)}")
    if limit is not None and len(value) > limit:
        raise InvalidArgumentError(f"{name} must be at most {limit} characters, got {len(value)}")
    return str(value)


def _deployment_name(value: Any) -> str:
    name = _text(value, "name", limit=MAX_NAME)
    if not name.strip():
        raise InvalidArgumentError("name must not be empty")
    return name


def _items(value: Any, name: str) -> Sequence[Any]:
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Sequence):
        raise InvalidArgumentTypeError(f"{name} must be a list, not {_kind(value)}")
    return value


def _agent(value: Any) -> str | dict[str, Any]:
    if isinstance(value, str):
        return agent_id(value, name="agent")
    if isinstance(value, AgentRef):
        fields: dict[str, Any] = {"id": value.id, "type": value.type, "version": value.version}
    elif isinstance(value, Mapping):
        unknown = sorted(str(key) for key in value if key not in ("id", "type", "version"))
        if unknown:
            raise InvalidArgumentError(
                f"agent has unknown keys {unknown}; expected id, type, version"
            )
        if "id" not in value or "version" not in value:
            raise InvalidArgumentError(
                "agent must have 'id' and 'version' (or pass the id as a str)"
            )
        fields = dict(value)
    else:
        raise InvalidArgumentTypeError(
            f"agent must be an agent id str, an AgentRef or a mapping, not {_kind(value)}"
        )
    if fields.get("type", "agent") != "agent":
        raise InvalidArgumentError(f"agent.type must be 'agent', got {_show(fields['type'])}")
    version = fields["version"]
    if type(version) is bool or not isinstance(version, int):
        raise InvalidArgumentTypeError(f"agent.version must be an int, not {_kind(version)}")
    if version < 1:
        raise InvalidArgumentError(f"agent.version must be >= 1, got {_show(version)}")
    return {"id": agent_id(fields["id"], name="agent.id"), "type": "agent", "version": version}


def _content(value: Any, name: str) -> list[Any]:
    if isinstance(value, str):
        if not value:
            raise InvalidArgumentError(f"{name} must not be empty")
        return [{"type": "text", "text": value}]
    blocks = _items(value, name)
    if not blocks:
        raise InvalidArgumentError(f"{name} must not be empty")
    out = []
    for index, block in enumerate(blocks):
        where = f"{name}[{index}]"
        if isinstance(block, TextBlock):
            block = unstructure(block)
        if not isinstance(block, Mapping):
            raise InvalidArgumentTypeError(
                f"{where} must be a TextBlock or a mapping, not {_kind(block)}"
            )
        kind = block.get("type")
        if not isinstance(kind, str) or not kind:
            raise InvalidArgumentError(f"{where}.type must be a non-empty str")
        if kind == "text":
            _text(block.get("text"), f"{where}.text")
        out.append(unstructure(block))
    return out


def _event(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, UnknownEvent):
        raise InvalidArgumentError(
            f"{name}.type must be one of {', '.join(_EVENT_TYPES)}, got {value.type!r}"
        )
    if isinstance(value, UserMessage | SystemMessage):
        # Keep the model's own content so the checks below see it as given.
        value = {**unstructure(value), "content": value.content}
    elif isinstance(value, DefineOutcome):
        value = unstructure(value)
    if not isinstance(value, Mapping):
        raise InvalidArgumentTypeError(
            f"{name} must be an event model or a mapping, not {_kind(value)}"
        )
    kind = value.get("type")
    if kind not in _EVENT_TYPES:
        raise InvalidArgumentError(
            f"{name}.type must be one of {', '.join(_EVENT_TYPES)}, got {_show(kind)}"
        )
    body = dict(value)
    if kind == "user.define_outcome":
        if not _text(body.get("description"), f"{name}.description"):
            raise InvalidArgumentError(f"{name}.description must not be empty")
        rubric = body.get("rubric")
        if rubric is not None and not isinstance(rubric, Mapping):
            raise InvalidArgumentTypeError(f"{name}.rubric must be a mapping, not {_kind(rubric)}")
        iterations = body.get("max_iterations")
        if iterations is not None:
            if type(iterations) is bool or not isinstance(iterations, int):
                raise InvalidArgumentTypeError(
                    f"{name}.max_iterations must be an int, not {_kind(iterations)}"
                )
            if iterations < 1:
                raise InvalidArgumentError(
                    f"{name}.max_iterations must be >= 1, got {_show(iterations)}"
                )
    else:
        body["content"] = _content(body.get("content"), f"{name}.content")
    result: dict[str, Any] = unstructure(body)
    return result


def _initial_events(value: Any) -> list[dict[str, Any]]:
    events = _items(value, "initial_events")
    if not 1 <= len(events) <= MAX_INITIAL_EVENTS:
        raise InvalidArgumentError(
            f"initial_events must hold 1 to {MAX_INITIAL_EVENTS} events, got {len(events)}"
        )
    return [_event(event, f"initial_events[{i}]") for i, event in enumerate(events)]


# Fields each known resource type needs when written; unknown types pass through.
_RESOURCE_FIELDS = {
    "file": ("file_id",),
    "github_repository": ("url", "authorization_token"),
    "memory_store": ("memory_store_id",),
}
_RESOURCE_MODELS = (FileResource, GitHubRepositoryResource, MemoryStoreResource, UnknownResource)


def _resource(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, _RESOURCE_MODELS):
        value = unstructure(value)
    if not isinstance(value, Mapping):
        raise InvalidArgumentTypeError(
            f"{name} must be a resource model or a mapping, not {_kind(value)}"
        )
    kind = value.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidArgumentError(f"{name}.type must be a non-empty str")
    for field in _RESOURCE_FIELDS.get(kind, ()):
        if field not in value:
            raise InvalidArgumentError(f"{name}.{field} is required for a {kind} resource")
        if not _text(value[field], f"{name}.{field}"):
            raise InvalidArgumentError(f"{name}.{field} must not be empty")
    for field in ("mount_path", "access", "instructions"):
        if value.get(field) is not None:
            _text(value[field], f"{name}.{field}")
    if kind == "memory_store" and value.get("access") not in (None, "read_only", "read_write"):
        raise InvalidArgumentError(f"{name}.access must be 'read_only' or 'read_write'")
    result: dict[str, Any] = unstructure(value)
    return result


def _vault_ids(value: Any) -> list[str]:
    ids = _items(value, "vault_ids")
    if len(ids) > MAX_VAULT_IDS:
        raise InvalidArgumentError(
            f"vault_ids must hold at most {MAX_VAULT_IDS} ids, got {len(ids)}"
        )
    return [_id(item, "vault_", f"vault_ids[{i}]") for i, item in enumerate(ids)]


def _metadata(value: Any, *, allow_delete: bool) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentTypeError(f"metadata must be a mapping, not {_kind(value)}")
    user_keys = sum(1 for key in value if key != _RESERVED_METADATA)
    if user_keys > MAX_METADATA_KEYS:
        raise InvalidArgumentError(
            f"metadata must have at most {MAX_METADATA_KEYS} keys, got {user_keys}"
        )
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidArgumentTypeError(f"metadata keys must be str, not {_kind(key)}")
        if not key or len(key) > MAX_METADATA_KEY:
            raise InvalidArgumentError(
                f"metadata key {_show(key)} must be 1 to {MAX_METADATA_KEY} characters"
            )
        where = f"metadata[{key!r}]"
        if item is None and allow_delete:
            continue  # merge-patch: null deletes the key
        if key == _RESERVED_METADATA:
            if not isinstance(item, Mapping):
                raise InvalidArgumentTypeError(f"{where} must be a mapping, not {_kind(item)}")
            continue
        _text(item, where, limit=MAX_METADATA_VALUE)
    result: dict[str, Any] = unstructure(dict(value))
    return result


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_SEPARATORS = re.compile(r"[;\n]")


def _environment_variables(value: Any) -> str:
    text = _text(value, "environment_variables")
    for entry in _ENV_SEPARATORS.split(text):
        entry = entry.strip()
        if not entry:
            continue
        key, sep, _ = entry.partition("=")
        if not sep or _ENV_NAME.fullmatch(key) is None:
            raise InvalidArgumentError(
                f"environment_variables entry {_show(entry)} must be KEY=VALUE with KEY"
                " matching [A-Za-z_][A-Za-z0-9_]*"
            )
    return text


def _budget(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentTypeError(f"budget must be a mapping, not {_kind(value)}")
    result: dict[str, Any] = unstructure(dict(value))
    return result


def _optional_fields(
    body: dict[str, Any],
    *,
    schedule: Any,
    description: Any,
    resources: Any,
    vault_ids: Any,
    metadata: Any,
    environment_variables: Any,
    budget: Any,
    allow_delete: bool,
) -> dict[str, Any]:
    if description is not None:
        body["description"] = _text(description, "description")
    if schedule is not None:
        from qoder_async._schedule_rules import schedule_body  # see __getattr__ above

        body["schedule"] = schedule_body(schedule)
    if resources is not None:
        items = _items(resources, "resources")
        body["resources"] = [_resource(item, f"resources[{i}]") for i, item in enumerate(items)]
    if vault_ids is not None:
        body["vault_ids"] = _vault_ids(vault_ids)
    if metadata is not None:
        body["metadata"] = _metadata(metadata, allow_delete=allow_delete)
    if environment_variables is not None:
        body["environment_variables"] = _environment_variables(environment_variables)
    if budget is not None:
        body["budget"] = _budget(budget)
    return body


def build_create_body(
    *,
    name: Any,
    agent: Any,
    environment_id: Any,
    initial_events: Any,
    schedule: Any = None,
    description: Any = None,
    resources: Any = None,
    vault_ids: Any = None,
    metadata: Any = None,
    environment_variables: Any = None,
    budget: Any = None,
) -> dict[str, Any]:
    """Check the arguments of ``deployments.create`` and build the JSON-ready body.

    ``None`` means "not given" and leaves the field out. Without ``schedule`` the
    deployment is manual-only.
    """
    body: dict[str, Any] = {
        "name": _deployment_name(name),
        "agent": _agent(agent),
        "environment_id": _id(environment_id, "env_", "environment_id"),
        "initial_events": _initial_events(initial_events),
    }
    return _optional_fields(
        body,
        schedule=schedule,
        description=description,
        resources=resources,
        vault_ids=vault_ids,
        metadata=metadata,
        environment_variables=environment_variables,
        budget=budget,
        allow_delete=False,
    )


def build_update_body(
    *,
    name: Any = None,
    agent: Any = None,
    environment_id: Any = None,
    initial_events: Any = None,
    schedule: Any = None,
    description: Any = None,
    resources: Any = None,
    vault_ids: Any = None,
    metadata: Any = None,
    environment_variables: Any = None,
    budget: Any = None,
) -> dict[str, Any]:
    """Check the arguments of ``deployments.update`` and build the JSON-ready body.

    Only given (non-``None``) fields are sent, and at least one must be. Lists replace
    the stored ones; ``metadata`` is merged, and a ``None`` value in it deletes that key.
    """
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = _deployment_name(name)
    if agent is not None:
        body["agent"] = _agent(agent)
    if environment_id is not None:
        body["environment_id"] = _id(environment_id, "env_", "environment_id")
    if initial_events is not None:
        body["initial_events"] = _initial_events(initial_events)
    _optional_fields(
        body,
        schedule=schedule,
        description=description,
        resources=resources,
        vault_ids=vault_ids,
        metadata=metadata,
        environment_variables=environment_variables,
        budget=budget,
        allow_delete=True,
    )
    if not body:
        raise InvalidArgumentError("update needs at least one field to change")
    return body
