"""Written-out structure functions for the four models on every list page.

Every other model is structured by the function cattrs generates from its attrs
declaration. ``Deployment`` and the three models each deployment holds (``AgentRef``,
``Schedule``, ``UserMessage``) are the exception because of a measured target: a
1,000-item page must decode within 5x msgspec, and with the generated functions alone
it missed that in 6 of 18 runs, these in none of 12 (BENCHMARKS.md, "Decoding: why four
structure functions are written out"). A generated function spends, beyond these, a
hook call per field (scalars included), a dict of optional arguments, and a wrapper
call for the unknown keys; here scalar checks are inline, optional fields are read
with ``dict.get``, and an empty or absent array or object costs no call.

Each is the only path for its type: the converter's factories build them
(``register``), so the generated functions are never used for these types (``T | None``
goes through the same function, see ``_structure_hooks._optional``).
The rules stay the converter's: nested arrays and unions go through its own hooks,
timestamps through the shared timestamp hooks, and the scalar checks are the strict ones
of ``_structure_hooks``. A factory refuses to build when the model's fields and the
fields read here differ, so a field added to a model cannot be silently dropped. Like
every hook, these raise on anything that does not fit, without saying where:
``_salvage`` then walks the body field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import cattrs

from qoder_async._salvage import DecodeFailure, describe
from qoder_async._structure_hooks import (
    CONTENT,
    NOT_ON_WIRE,
    optional_timestamp,
    timestamp,
    with_extra,
)
from qoder_async.models import (
    AgentRef,
    Deployment,
    DeploymentStatus,
    InitialEvent,
    PausedReason,
    Resource,
    Schedule,
    UserMessage,
)

__all__ = ["WRITTEN", "register"]

Hook = Callable[[Any, Any], Any]

# What an optional array may be sent as when it holds nothing (``in`` compares by ==, so
# 0, "" or {} are not among them and still fail in the array's hook).
_NO_ITEMS: tuple[Any, ...] = (None, [])


def _wrong_type(model: str) -> DecodeFailure:
    return DecodeFailure(f"a {model} field holds a value of the wrong type")


def _agent_ref(_converter: cattrs.Converter, known: frozenset[str]) -> Hook:
    def structure_agent_ref(o: Any, _: Any) -> AgentRef:
        id_, version, kind = o["id"], o["version"], o.get("type", "agent")
        if not (type(id_) is str and type(version) is int and type(kind) is str):
            raise _wrong_type("agent")
        obj = AgentRef(id=id_, version=version, type=kind)
        return obj if o.keys() <= known else with_extra(obj, o, known)

    return structure_agent_ref


def _schedule(converter: cattrs.Converter, known: frozenset[str]) -> Hook:
    timestamps = converter.get_structure_hook(tuple[datetime, ...])

    def structure_schedule(o: Any, _: Any) -> Schedule:
        expression, timezone, kind = o["expression"], o["timezone"], o.get("type", "cron")
        if not (type(expression) is str and type(timezone) is str and type(kind) is str):
            raise _wrong_type("schedule")
        obj = Schedule(
            type=kind,
            expression=expression,
            timezone=timezone,
            upcoming_runs_at=timestamps(o.get("upcoming_runs_at"), None),  # absent or null: ()
            last_run_at=optional_timestamp(o.get("last_run_at"), None),
        )
        return obj if o.keys() <= known else with_extra(obj, o, known)

    return structure_schedule


def _user_message(converter: cattrs.Converter, known: frozenset[str]) -> Hook:
    blocks = converter.get_structure_hook(CONTENT)

    def structure_user_message(o: Any, _: Any) -> UserMessage:
        content = o["content"]
        if o.get("type", "user.message") != "user.message":
            raise DecodeFailure(f"expected 'user.message', got {describe(o['type'])}")
        obj = UserMessage(content=content if type(content) is str else blocks(content, None))
        return obj if o.keys() <= known else with_extra(obj, o, known)

    return structure_user_message


def _deployment(converter: cattrs.Converter, known: frozenset[str]) -> Hook:
    hook = converter.get_structure_hook
    agent = hook(AgentRef)
    schedule = hook(Schedule)
    initial_events = hook(tuple[InitialEvent, ...])
    resources = hook(tuple[Resource, ...])
    vault_ids = hook(tuple[str, ...])
    paused_reason = hook(PausedReason)
    # ``DeploymentStatus | str``: a known value only; an unknown one is drift (KeyError).
    status = {member.value: member for member in DeploymentStatus}.__getitem__

    def structure_deployment(o: Any, _: Any) -> Deployment:
        id_, name, environment_id = o["id"], o["name"], o["environment_id"]
        description = o["description"]
        environment_variables = o.get("environment_variables")
        if not (
            type(id_) is str
            and type(name) is str
            and type(environment_id) is str
            and (description is None or type(description) is str)
            and (environment_variables is None or type(environment_variables) is str)
        ):
            raise _wrong_type("deployment")
        if o.get("type", "deployment") != "deployment":
            raise DecodeFailure(f"expected 'deployment', got {describe(o['type'])}")
        metadata = o.get("metadata")
        if metadata is None:
            metadata = {}  # absent, or null as Go services send an empty object
        elif type(metadata) is not dict:
            raise DecodeFailure(f"expected an object, got {describe(metadata)}")
        budget = o.get("budget")
        if not (budget is None or type(budget) is dict):
            raise DecodeFailure(f"expected an object or null, got {describe(budget)}")
        listed_resources, listed_vault_ids = o.get("resources"), o.get("vault_ids")
        on_schedule, paused = o["schedule"], o["paused_reason"]
        obj = Deployment(
            id=id_,
            name=name,
            description=description,
            agent=agent(o["agent"], AgentRef),
            environment_id=environment_id,
            schedule=None if on_schedule is None else schedule(on_schedule, Schedule),
            initial_events=initial_events(o["initial_events"], None),
            # Absent, null and [] all read as (): the commonest case costs no call.
            resources=(() if listed_resources in _NO_ITEMS else resources(listed_resources, None)),
            vault_ids=() if listed_vault_ids in _NO_ITEMS else vault_ids(listed_vault_ids, None),
            metadata=metadata,
            status=status(o["status"]),
            paused_reason=None if paused is None else paused_reason(paused, PausedReason),
            archived_at=optional_timestamp(o["archived_at"], None),
            created_at=timestamp(o["created_at"], None),
            updated_at=timestamp(o["updated_at"], None),
            environment_variables=environment_variables,
            budget=budget,
        )
        return obj if o.keys() <= known else with_extra(obj, o, known)

    return structure_deployment


#: The types with a written-out function: the factory that builds it, and the fields it
#: reads (checked against the model when it is built).
WRITTEN: dict[type[Any], tuple[Callable[[cattrs.Converter, frozenset[str]], Hook], str]] = {
    AgentRef: (_agent_ref, "id type version"),
    Schedule: (_schedule, "type expression timezone upcoming_runs_at last_run_at"),
    UserMessage: (_user_message, "type content"),
    Deployment: (
        _deployment,
        "type id name description agent environment_id schedule initial_events resources"
        " vault_ids metadata status paused_reason archived_at created_at updated_at"
        " environment_variables budget",
    ),
}


def _factory(cls: type[Any]) -> Callable[[Any, cattrs.Converter], Hook]:
    build, read = WRITTEN[cls]

    def make(_tp: Any, converter: cattrs.Converter) -> Hook:
        known = frozenset(field.name for field in attrs.fields(cls)) - NOT_ON_WIRE
        if known != frozenset(read.split()):  # the model changed: its function must follow
            unread = sorted(known ^ frozenset(read.split()))
            raise RuntimeError(f"{cls.__name__} fields out of step with _written_hooks: {unread}")
        return build(converter, known)

    return make


def _is(cls: type[Any]) -> Callable[[Any], bool]:
    def matches(tp: Any) -> bool:
        return tp is cls

    return matches


def register(converter: cattrs.Converter) -> None:
    """Make ``converter`` structure the ``WRITTEN`` types with the functions above."""
    for cls in WRITTEN:
        converter.register_structure_hook_factory(_is(cls), _factory(cls))
