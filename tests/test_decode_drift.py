"""Schema drift: lenient decoding keeps what does not fit, strict decoding names it.

Each drift case mutates a recorded body the way a live API could drift. Lenient (the
client default) must return the model with the raw part kept and log one warning;
strict must raise naming the path. Tolerated shapes (extra keys, offsets, nanoseconds,
content as a string or as blocks) decode the same in both modes without a warning.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qoder_async import _salvage, _serde
from qoder_async._serde import DecodeFailure
from qoder_async.models import (
    AgentRef,
    Deployment,
    DeploymentRun,
    Page,
    TextBlock,
    UnknownEvent,
    UnknownResource,
    UserMessage,
)

FIXTURES = Path(__file__).parent / "fixtures"
MODELS: dict[str, Any] = {
    "deployment.json": Deployment,
    "deployment_archived.json": Deployment,
    "deployment_paused.json": Deployment,
    "deployment_run.json": DeploymentRun,
    "deployment_run_running.json": DeploymentRun,
    "deployment_list_page.json": Page[Deployment],
    "deployment_run_list_page.json": Page[DeploymentRun],
    "list_page_empty.json": Page[Deployment],
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    # Warnings are logged once per process and path; each test starts with none seen.
    _salvage._warned.clear()
    yield
    _salvage._warned.clear()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "qoder_async" and r.levelno == logging.WARNING
    ]


Mutate = Callable[[dict[str, Any]], None]
Check = Callable[[Any, dict[str, Any]], object]


def _set(path: tuple[Any, ...], value: Any) -> Mutate:
    def mutate(body: dict[str, Any]) -> None:
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(path: tuple[Any, ...]) -> Mutate:
    def mutate(body: dict[str, Any]) -> None:
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


FILE_NO_ID = {"type": "file", "id": "file_1", "mount_path": "/mnt/session/uploads/file_1"}


def _resource_is_unknown(d: Deployment, body: dict[str, Any]) -> None:
    assert d.resources[0] == UnknownResource(
        type=body["resources"][0]["type"], raw=body["resources"][0]
    )


def _event_is_unknown(d: Deployment, body: dict[str, Any]) -> None:
    event = body["initial_events"][0]
    assert d.initial_events[0] == UnknownEvent(type=event["type"], raw=event)


def _kept_in_extra(*path: str) -> Check:
    """The field at ``path`` reads as its default/None and its raw value is in extra."""

    def check(model: Any, body: dict[str, Any]) -> None:
        owner, raw_owner = model, body
        for key in path[:-1]:
            owner, raw_owner = getattr(owner, key), raw_owner[key]
        key = path[-1]
        assert owner.extra[key] == raw_owner[key]
        assert getattr(owner, key) in (None, (), {}, "deployment", "deployment_run")

    return check


def _field_is(path: tuple[str, ...], expected: Any) -> Check:
    def check(model: Any, body: dict[str, Any]) -> None:
        for key in path:
            model = getattr(model, key)
        assert model == expected

    return check


def _archived_kept(d: Deployment, body: dict[str, Any]) -> None:
    assert d.archived_at is None
    assert d.extra["archived_at"] == "yesterday"
    assert d.is_archived  # the server did archive it
    assert not d.is_paused


DEP = "deployment.json"
RUN = "deployment_run.json"

# (id, fixture, mutation, strict failure path and reason, lenient check)
DRIFT: list[tuple[str, str, Mutate, str, Check]] = [
    ("file resource without file_id", DEP, _set(("resources",), [FILE_NO_ID]),
     r"deployment\.resources\[0\]\.file_id: missing required field", _resource_is_unknown),
    ("unknown resource type", DEP, _set(("resources",), [{"type": "s3_bucket", "bucket": "b"}]),
     r"deployment\.resources\[0\]\.type: unknown type 's3_bucket'", _resource_is_unknown),
    ("memory store with a numeric id", DEP,
     _set(("resources",), [{"type": "memory_store", "memory_store_id": 7}]),
     r"deployment\.resources\[0\]\.memory_store_id: expected a string, got 7",
     _resource_is_unknown),
    ("unknown event type", DEP,
     _set(("initial_events",), [{"type": "user.tool_result", "tool_use_id": "t1"}]),
     r"deployment\.initial_events\[0\]\.type: unknown type 'user\.tool_result'",
     _event_is_unknown),
    ("message content as a number", DEP, _set(("initial_events", 0, "content"), 5),
     r"deployment\.initial_events\[0\]\.content: expected a string or an array of blocks",
     _event_is_unknown),
    ("outcome without description", DEP,
     _set(("initial_events",), [{"type": "user.define_outcome", "max_iterations": 2}]),
     r"deployment\.initial_events\[0\]\.description: missing required field",
     _event_is_unknown),
    ("text block without text", DEP,
     _set(("initial_events", 0, "content"), [{"type": "text", "value": "hi"}]),
     r"deployment\.initial_events\[0\]\.content\[0\]\.text: missing required field",
     _event_is_unknown),
    ("unknown status", DEP, _set(("status",), "draining"),
     r"deployment\.status: unknown value 'draining'", _field_is(("status",), "draining")),
    ("status as a number", DEP, _set(("status",), 5),
     r"deployment\.status: expected a string, got 5", _kept_in_extra("status")),
    ("agent version as a string", DEP, _set(("agent", "version"), "1"),
     r"deployment\.agent\.version: expected an integer, got '1'",
     _kept_in_extra("agent", "version")),
    ("agent version as a boolean", DEP, _set(("agent", "version"), True),
     r"deployment\.agent\.version: expected an integer, got a boolean",
     _kept_in_extra("agent", "version")),
    ("agent without version", DEP, _drop(("agent", "version")),
     r"deployment\.agent\.version: missing required field",
     _field_is(("agent",), AgentRef(id="agent_019eb4d4a06d747c865d5800b9c57ae2",
                                    version=None))),  # type: ignore[arg-type]
    ("agent as a string", DEP, _set(("agent",), "agent_x"),
     r"deployment\.agent: expected an object, got 'agent_x'", _kept_in_extra("agent")),
    ("schedule without expression", DEP, _drop(("schedule", "expression")),
     r"deployment\.schedule\.expression: missing required field",
     _field_is(("schedule", "expression"), None)),
    ("upcoming run that is not a time", DEP, _set(("schedule", "upcoming_runs_at", 1), "soon"),
     r"deployment\.schedule\.upcoming_runs_at\[1\]: expected an RFC 3339 timestamp",
     _kept_in_extra("schedule", "upcoming_runs_at")),
    ("created_at as unix seconds", DEP, _set(("created_at",), 1781427212),
     r"deployment\.created_at: expected an RFC 3339 timestamp, got 1781427212",
     _kept_in_extra("created_at")),
    ("archived_at that does not parse", DEP, _set(("archived_at",), "yesterday"),
     r"deployment\.archived_at: expected an RFC 3339 timestamp or null", _archived_kept),
    ("naive timestamp", DEP, _set(("updated_at",), "2026-06-14T08:53:32"),
     r"deployment\.updated_at: expected an RFC 3339 timestamp", _kept_in_extra("updated_at")),
    ("paused_reason as a string", DEP, _set(("paused_reason",), "manual"),
     r"deployment\.paused_reason: expected an object or null", _kept_in_extra("paused_reason")),
    ("vault id that is a number", DEP, _set(("vault_ids",), ["vault_1", 5]),
     r"deployment\.vault_ids\[1\]: expected a string, got 5", _kept_in_extra("vault_ids")),
    ("metadata as an array", DEP, _set(("metadata",), ["x"]),
     r"deployment\.metadata: expected an object, got an array", _kept_in_extra("metadata")),
    ("name as a number", DEP, _set(("name",), 42),
     r"deployment\.name: expected a string, got 42", _kept_in_extra("name")),
    ("another object type", DEP, _set(("type",), "deployment_v2"),
     r"deployment\.type: expected 'deployment', got 'deployment_v2'", _kept_in_extra("type")),
    ("unknown run status", RUN, _set(("status",), "cancelled"),
     r"deployment_run\.status: unknown value 'cancelled'", _field_is(("status",), "cancelled")),
    ("unknown trigger type", RUN, _set(("trigger_context", "type"), "webhook"),
     r"deployment_run\.trigger_context\.type: unknown value 'webhook'",
     _field_is(("trigger_context", "type"), "webhook")),
    ("attempt as a string", RUN, _set(("cas_run_extras",), {"attempt": "1"}),
     r"deployment_run\.cas_run_extras\.attempt: expected an integer, got '1'",
     _kept_in_extra("cas_run_extras", "attempt")),
    ("run error without message", RUN, _set(("error",), {"type": "timeout"}),
     r"deployment_run\.error\.message: missing required field",
     _field_is(("error", "type"), "timeout")),
    ("duration as a float", RUN, _set(("duration_ms",), 1.5),
     r"deployment_run\.duration_ms: expected an integer or null, got 1\.5",
     _kept_in_extra("duration_ms")),
]  # fmt: skip


def drifted(name: str, mutate: Mutate) -> dict[str, Any]:
    body: dict[str, Any] = load(name)
    mutate(body)
    return body


def test_the_drift_corpus_is_large_enough() -> None:
    assert len(DRIFT) >= 20


@pytest.mark.parametrize(
    ("name", "mutate", "path"), [c[1:4] for c in DRIFT], ids=[c[0] for c in DRIFT]
)
def test_strict_mode_raises_naming_the_path(name: str, mutate: Mutate, path: str) -> None:
    body = drifted(name, mutate)
    with pytest.raises(DecodeFailure, match="^" + path):
        _serde.structure(body, MODELS[name], strict=True)


@pytest.mark.parametrize(
    ("name", "mutate", "check"), [(c[1], c[2], c[4]) for c in DRIFT], ids=[c[0] for c in DRIFT]
)
def test_lenient_mode_keeps_the_raw_part_and_warns_once(
    name: str, mutate: Mutate, check: Check, caplog: pytest.LogCaptureFixture
) -> None:
    body = drifted(name, mutate)
    pristine = copy.deepcopy(body)
    with caplog.at_level(logging.WARNING, logger="qoder_async"):
        model = _serde.structure(body, MODELS[name], strict=False)
        again = _serde.structure(body, MODELS[name], strict=False)
    assert again == model
    assert model.id == body["id"]
    check(model, body)
    assert body == pristine  # the input is not changed
    (message,) = warnings_of(caplog)  # once, though decoded twice
    assert "strict_responses=True" in message
    # What fits still decodes as usual.
    untouched = _serde.structure(load(name), MODELS[name])
    assert model.created_at == untouched.created_at or "created_at" in model.extra


def test_lenient_drift_round_trips_to_the_same_wire() -> None:
    for _, name, mutate, _, _ in DRIFT:
        body = drifted(name, mutate)
        model = _serde.structure(body, MODELS[name], strict=False)
        wire = json.loads(json.dumps(_serde.unstructure(model)))
        assert _serde.structure(wire, MODELS[name], strict=False) == model


def test_one_warning_per_path_not_per_index(caplog: pytest.LogCaptureFixture) -> None:
    body = load(DEP)
    body["resources"] = [FILE_NO_ID, FILE_NO_ID | {"id": "file_2"}]
    with caplog.at_level(logging.WARNING, logger="qoder_async"):
        d = _serde.structure(body, Deployment, strict=False)
    assert [type(r) for r in d.resources] == [UnknownResource, UnknownResource]
    assert len(warnings_of(caplog)) == 1


def test_a_drifted_item_does_not_cost_the_rest_of_the_page() -> None:
    page = load("deployment_list_page.json")
    page["data"][0]["agent"]["version"] = "2"
    decoded = _serde.structure(page, Page[Deployment], strict=False)
    assert decoded.data[0].agent.extra == {"version": "2"}
    assert (
        decoded.data[1:]
        == _serde.structure(load("deployment_list_page.json"), Page[Deployment]).data[1:]
    )
    with pytest.raises(DecodeFailure, match=r"^page\.data\[0\]\.agent\.version: "):
        _serde.structure(page, Page[Deployment], strict=True)


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "no id"}, r"deployment\.id: missing required field"),
        ({"id": 5}, r"deployment\.id: expected a string, got 5"),
        (["not", "an", "object"], r"deployment: expected an object, got an array"),
        ("text", r"deployment: expected an object"),
    ],
)
def test_without_its_id_a_body_is_an_error_in_both_modes(
    body: Any, path: str, strict: bool
) -> None:
    if isinstance(body, dict) and "name" in body:
        body = load(DEP) | body
        del body["id"]
    elif isinstance(body, dict):
        body = load(DEP) | body
    with pytest.raises(DecodeFailure, match="^" + path):
        _serde.structure(body, Deployment, strict=strict)


def test_a_page_without_data_is_an_error_in_both_modes() -> None:
    for strict in (True, False):
        with pytest.raises(DecodeFailure, match=r"^page\.data: missing required field"):
            _serde.structure({"has_more": False}, Page[Deployment], strict=strict)


# --- shapes that are not drift: the same model in both modes, no warning --------------

PLUS8 = "2026-06-14T16:53:32.123456789+08:00"


def _extra_keys_everywhere(body: dict[str, Any]) -> None:
    body["new_top"] = 1
    body["agent"]["new_agent"] = 2
    body["schedule"]["new_schedule"] = 3
    body["initial_events"][0]["new_event"] = 4
    body["resources"] = [{"type": "file", "file_id": "file_1", "new_resource": 5}]
    body["paused_reason"] = {"type": "manual", "new_reason": 6}


TOLERATED: list[tuple[str, str, Mutate, Check]] = [
    ("extra keys at every level", DEP, _extra_keys_everywhere,
     lambda d, b: (d.extra, d.agent.extra, d.schedule.extra, d.initial_events[0].extra,
                   d.resources[0].extra, d.paused_reason.extra)
     == ({"new_top": 1}, {"new_agent": 2}, {"new_schedule": 3}, {"new_event": 4},
         {"new_resource": 5}, {"new_reason": 6})),
    ("a key named extra", DEP, _set(("extra",), {"a": 1}),
     lambda d, b: d.extra == {"extra": {"a": 1}}),
    ("offset and nanoseconds", DEP, _set(("created_at",), PLUS8),
     lambda d, b: d.created_at == datetime(2026, 6, 14, 8, 53, 32, 123456, tzinfo=UTC)),
    ("lower-case t and z", DEP, _set(("updated_at",), "2026-06-14t08:53:32.5z"),
     lambda d, b: d.updated_at == datetime(2026, 6, 14, 8, 53, 32, 500000, tzinfo=UTC)),
    ("no fractional digits", RUN, _set(("triggered_at",), "2026-06-14T08:58:17Z"),
     lambda r, b: r.triggered_at == datetime(2026, 6, 14, 8, 58, 17, tzinfo=UTC)),
    ("content as a string", DEP, _set(("initial_events", 0, "content"), "hi"),
     lambda d, b: d.initial_events[0] == UserMessage(content="hi")),
    ("content as blocks", DEP,
     _set(("initial_events", 0, "content"),
          [{"type": "text", "text": "hi", "cache": 1}, {"type": "image"}]),
     lambda d, b: d.initial_events[0]
     == UserMessage(content=(TextBlock(text="hi", extra={"cache": 1}), {"type": "image"}))),
    ("nullable keys left out", DEP, _drop(("description",)), lambda d, b: d.description is None),
    ("arrays sent as null", DEP, _set(("resources",), None), lambda d, b: d.resources == ()),
    ("run extras with extra keys", RUN, _set(("cas_run_extras",), {"attempt": 2, "host": "h"}),
     lambda r, b: r.cas_run_extras.extra == {"host": "h"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "mutate", "check"), [c[1:] for c in TOLERATED], ids=[c[0] for c in TOLERATED]
)
def test_tolerated_shapes_decode_the_same_in_both_modes_without_warning(
    name: str, mutate: Mutate, check: Check, caplog: pytest.LogCaptureFixture
) -> None:
    body = drifted(name, mutate)
    with caplog.at_level(logging.WARNING, logger="qoder_async"):
        strict = _serde.structure(body, MODELS[name], strict=True)
        lenient = _serde.structure(body, MODELS[name], strict=False)
    assert strict == lenient
    assert check(strict, body) is not False  # a predicate says True, a checker asserts
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_fixture_decodes_to_the_same_model_in_both_modes(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="qoder_async"):
        strict = _serde.structure(load(name), MODELS[name], strict=True)
        lenient = _serde.structure(load(name), MODELS[name], strict=False)
    assert strict == lenient
    assert warnings_of(caplog) == []
