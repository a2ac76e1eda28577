"""The decoders' fast paths never disagree with the careful decoders.

Deployments and runs are decoded first by an inlined fast path that must give up on
anything unusual; the careful decoder then decides. These tests hold the fast path to
that contract directly: on the shapes the API sends it must not give up (or the speed is
lost), and on any variation it either gives up or returns exactly what the careful
decoder returns, down to the types of values and the identity of kept raw mappings.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qoder_async import _decode, _decode_deployment, _serde
from qoder_async._decode import DecodeFailure, positional_builder
from qoder_async.models import AgentRef, Deployment, DeploymentRun, Page, Schedule
from qoder_async.testing import FakeState

FIXTURES = Path(__file__).parent / "fixtures"

Decoder = Callable[[Any], Any]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _fake_bodies() -> tuple[list[Any], list[Any]]:
    state = FakeState(seed=3)
    ids = state.seed(4)
    state.pause(ids[1])
    state.archive(ids[2])
    runs = [state.run(ids[0]), state.run(ids[3])]
    return [state.get(dep) for dep in ids], runs


FAKE_DEPLOYMENTS, FAKE_RUNS = _fake_bodies()
DEPLOYMENTS = [
    load("deployment.json"),
    load("deployment_archived.json"),
    load("deployment_paused.json"),
    *load("deployment_list_page.json")["data"],
    *FAKE_DEPLOYMENTS,
]
RUNS = [
    load("deployment_run.json"),
    load("deployment_run_running.json"),
    *load("deployment_run_list_page.json")["data"],
    *FAKE_RUNS,
]
KINDS: dict[str, tuple[list[Any], Decoder, Decoder]] = {
    "deployment": (
        DEPLOYMENTS,
        _decode_deployment._fast_deployment,
        _decode_deployment._careful_deployment,
    ),
    "run": (RUNS, _decode._fast_run, _decode._careful_run),
}


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (``==`` alone would let a StrEnum
    member pass for its string, or a list for a tuple inside a dict)."""
    if type(a) is not type(b):
        return False
    if attrs.has(type(a)):
        return all(
            same(getattr(a, field.name), getattr(b, field.name)) for field in attrs.fields(type(a))
        )
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if isinstance(a, datetime):
        return a == b and a.tzinfo is b.tzinfo
    return bool(a == b)


def raw_mappings(model: Any) -> list[int]:
    """The ids of the raw mappings a model keeps (``metadata``, ``budget``, ...)."""
    found: list[int] = []
    if attrs.has(type(model)):
        for field in attrs.fields(type(model)):
            value = getattr(model, field.name)
            if isinstance(value, dict) and field.name != "extra" and value:
                found.append(id(value))
            found += raw_mappings(value)
    elif isinstance(model, tuple):
        for item in model:
            found += raw_mappings(item)
    return found


def agree(body: Any, fast: Decoder, careful: Decoder) -> bool:
    """Check the contract on ``body``; whether the fast path took it."""
    try:
        expected = careful(body)
    except DecodeFailure:
        expected = None
    try:
        got = fast(body)
    except Exception:
        return False  # gave up: the careful decoder decides, which is always right
    assert expected is not None, "the fast path accepted a body the careful one rejects"
    assert same(got, expected)
    assert raw_mappings(got) == raw_mappings(expected)
    return True


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_usual_shapes_take_the_fast_path(kind: str) -> None:
    bodies, fast, careful = KINDS[kind]
    for body in bodies:
        assert agree(body, fast, careful), body


def test_pages_decode_the_same_either_way() -> None:
    items: list[tuple[str, type[Any]]] = [
        ("deployment_list_page.json", Deployment),
        ("deployment_run_list_page.json", DeploymentRun),
    ]
    for name, item in items:
        body = load(name)
        careful = KINDS["deployment" if item is Deployment else "run"][2]
        page: Page[Any] = _serde.structure_page(body, item)
        assert same(page.data, tuple(careful(entry) for entry in body["data"]))


def test_a_bad_item_deep_in_a_page_is_still_named_by_index() -> None:
    body = {"data": [*DEPLOYMENTS[:3], dict(DEPLOYMENTS[0], created_at="soon")], "has_more": False}
    with pytest.raises(DecodeFailure) as info:
        _serde.structure_page(body, Deployment)
    assert info.value.path == "page.data[3].created_at"


def test_a_failure_carries_no_trace_of_the_fast_path() -> None:
    body = dict(DEPLOYMENTS[0], agent={"id": "agent_1", "version": "1"})
    with pytest.raises(DecodeFailure) as info:
        _serde.structure_deployment(body)
    assert str(info.value) == "deployment.agent.version: expected an integer, got '1'"
    assert info.value.__context__ is None
    assert info.value.__cause__ is None


# Values a field may take in a variation: plausible near-misses and random JSON.
TIMESTAMPS = st.sampled_from(
    [
        "2026-06-15T01:00:00Z",
        "2026-06-15T01:00:00.123456789Z",
        "2026-06-15t01:00:00z",
        "2026-06-15T09:00:00+08:00",
        "2026-06-15T01:00:00+00:00",
        "2026-06-15T01:00:00",
        "2026-06-15",
        "",
    ]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
VALUES: st.SearchStrategy[Any] = (
    JSON
    | TIMESTAMPS
    | st.lists(TIMESTAMPS, max_size=3)
    | st.sampled_from(["", "agent", "active", "paused", "user.message", "system.message"])
    | st.sampled_from(["text", "file", "deployment", "deployment_run", "manual", "cron"])
    | st.builds(dict, type=st.sampled_from(["user.message", "system.message", "x"]))
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


@st.composite
def variations(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    body = copy.deepcopy(draw(st.sampled_from(KINDS[kind][0])))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(body)))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["drop", "set", "add"]))
        if action == "drop" and isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["new_field", "x", "type", "content"]))] = draw(VALUES)
        else:
            parent[path[-1]] = draw(VALUES)
    return kind, body


@given(variations())
@settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_any_variation_is_decoded_as_the_careful_decoder_does(case: tuple[str, Any]) -> None:
    kind, body = case
    _, fast, careful = KINDS[kind]
    agree(body, fast, careful)


def get(body: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        body = body[step]
    return body


# Every key the decoders know, at any level.
KNOWN_KEYS = sorted(
    {
        "type", "id", "name", "description", "agent", "environment_id", "schedule",
        "initial_events", "resources", "vault_ids", "metadata", "status", "paused_reason",
        "archived_at", "created_at", "updated_at", "environment_variables", "budget",
        "expression", "timezone", "upcoming_runs_at", "last_run_at", "version", "content",
        "deployment_id", "error", "trigger_context", "triggered_at", "session_id",
        "completed_at", "duration_ms", "cas_run_extras", "attempt", "turn_id", "started_at",
        "message",
    }
)  # fmt: skip


DROP = object()
SPECIALS: list[Any] = [
    DROP,
    None,
    True,
    False,
    0,
    7,
    -1,
    1.5,
    "",
    "x",
    "agent",
    "active",
    "manual",
    "user.message",
    "text",
    [],
    [1],
    ["x"],
    {},
    {"type": "text"},
    {"type": "user.message"},
    "2026-06-15T01:00:00Z",
    "2026-06-15T01:00:00.5Z",
    "2026-06-15t01:00:00z",
    "2026-06-15T09:00:00+08:00",
    "2026-06-15T01:00:00",
    ["2026-06-15T01:00:00Z", "2026-06-15T09:00:00+08:00"],
]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_field_set_to_every_special_value(kind: str) -> None:
    bodies, fast, careful = KINDS[kind]
    # One body per source is enough: they share their shape.
    for original in bodies[:3] + bodies[-2:]:
        for path in paths(original):
            for value in SPECIALS:
                body = copy.deepcopy(original)
                parent = body
                for step in path[:-1]:
                    parent = parent[step]
                if value is DROP:
                    if not isinstance(parent, dict):
                        continue
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = value
                agree(body, fast, careful)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_missing_known_field_added_with_every_special_value(kind: str) -> None:
    bodies, fast, careful = KINDS[kind]
    for original in bodies[:3] + bodies[-2:]:
        holders = [()] + [path for path in paths(original) if isinstance(get(original, path), dict)]
        for path in holders:
            for key in [*KNOWN_KEYS, "unknown"]:
                if key in get(original, path):
                    continue
                for value in SPECIALS[1:]:
                    body = copy.deepcopy(original)
                    get(body, path)[key] = value
                    agree(body, fast, careful)


# --- positional_builder ---------------------------------------------------------------


def test_the_builder_makes_an_equal_frozen_model() -> None:
    build = positional_builder(AgentRef)
    made = build("agent_1", "agent", 3, {"x": 1})
    assert same(made, AgentRef(id="agent_1", version=3, extra={"x": 1}))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.version = 4  # type: ignore[misc]
    assert same(
        positional_builder(Schedule)("cron", "0 9 * * *", "UTC", (), None, {}),
        Schedule(expression="0 9 * * *", timezone="UTC"),
    )


@attrs.frozen(kw_only=True)
class _Checked:
    size: int = attrs.field(validator=attrs.validators.ge(0))
    _hidden: str = "h"


@attrs.frozen(kw_only=True)
class _Hooked:
    size: int

    def __attrs_post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("negative")


def test_the_builder_uses_the_constructor_when_a_model_checks_its_fields() -> None:
    build = positional_builder(_Checked)
    assert build(1, "x") == _Checked(size=1, hidden="x")
    with pytest.raises(ValueError, match="size"):
        build(-1, "x")
    with pytest.raises(ValueError, match="negative"):
        positional_builder(_Hooked)(-1)
