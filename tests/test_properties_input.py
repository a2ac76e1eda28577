"""Bad arguments are refused before anything is sent, with an error naming the parameter.

Every id parameter of every method gets hostile ids (path separators, query and fragment
marks, percent-encoding, whitespace, look-alike unicode, empty, very long, not a str);
names, metadata, initial events, schedules, page sizes, flags, timestamps and
idempotency keys get their own bad values. Each call must raise ``InvalidArgumentError``
(a ``QoderError`` and a ``ValueError``; ``InvalidArgumentTypeError`` for a value of the
wrong type, also a ``TypeError``) whose message starts with the parameter's name, and the
transport must have seen no request at all.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qoder_async import InvalidArgumentError, QoderClient
from qoder_async._messages import Request, Response
from qoder_async._serde import structure_deployment
from qoder_async.bulk import BulkJob
from qoder_async.testing import FakeQoderServer
from qoder_async.transport import MockTransport

BASE = "https://api.example/api/v1/cloud"
DEP = "dep_019ec556114c78f8b60ee34fcb98bf59"
RUN = "drun_019ec55a68af73028afa5b87931cb2f3"
AGENT = "agent_019eb4d4a06d747c865d5800b9c57ae2"
ENV = "env_019e64e01a137caf953ac2ac7b42ec5c"
VAULT = "vault_019e64e01a137caf953ac2ac7b42ec5c"
EVENT = {"type": "user.message", "content": "hi"}

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(PROPERTY, max_examples=40)

Invoke = Callable[[QoderClient, Any], object]


def create(client: QoderClient, **changes: Any) -> object:
    kwargs: dict[str, Any] = {
        "name": "nightly",
        "agent": AGENT,
        "environment_id": ENV,
        "initial_events": [EVENT],
    }
    kwargs.update(changes)
    return client.deployments.create(**kwargs)


def _refuse(request: Request) -> Response:
    raise AssertionError(f"a request was sent: {request.method} {request.url}")


async def _attempt(invoke: Invoke, value: Any) -> tuple[BaseException | None, int]:
    transport = MockTransport(_refuse)
    async with QoderClient("pt-input", base_url=BASE, transport=transport) as client:
        try:
            result = invoke(client, value)
            # Coroutines validate when they start; paginators and bulk jobs when built.
            if inspect.isawaitable(result) and not isinstance(result, BulkJob):
                await result
        except Exception as exc:
            return exc, len(transport.requests)
    return None, len(transport.requests)


def assert_refused(invoke: Invoke, value: Any, param: str) -> None:
    error, sent = asyncio.run(_attempt(invoke, value))
    assert sent == 0
    assert isinstance(error, InvalidArgumentError), f"{value!r} gave {error!r}"
    assert str(error).startswith(param), f"{param!r} not named first in {str(error)!r}"


# -- ids ---------------------------------------------------------------------------------

ID_TARGETS: dict[str, tuple[str, str, Invoke]] = {
    # label: (id prefix, parameter named in the error, call)
    "deployments.get": ("dep_", "deployment_id", lambda c, v: c.deployments.get(v)),
    "deployments.update": (
        "dep_",
        "deployment_id",
        lambda c, v: c.deployments.update(v, name="x"),
    ),
    "deployments.pause": ("dep_", "deployment_id", lambda c, v: c.deployments.pause(v)),
    "deployments.unpause": ("dep_", "deployment_id", lambda c, v: c.deployments.unpause(v)),
    "deployments.archive": ("dep_", "deployment_id", lambda c, v: c.deployments.archive(v)),
    "deployments.run": ("dep_", "deployment_id", lambda c, v: c.deployments.run(v)),
    "deployments.list(agent_id)": (
        "agent_",
        "agent_id",
        lambda c, v: c.deployments.list(agent_id=v),
    ),
    "deployments.list(after_id)": (
        "dep_",
        "after_id",
        lambda c, v: c.deployments.list(after_id=v),
    ),
    "deployments.list(before_id)": (
        "dep_",
        "before_id",
        lambda c, v: c.deployments.list(before_id=v),
    ),
    "deployments.create(agent)": ("agent_", "agent", lambda c, v: create(c, agent=v)),
    "deployments.create(agent.id)": (
        "agent_",
        "agent.id",
        lambda c, v: create(c, agent={"id": v, "version": 1}),
    ),
    "deployments.create(environment_id)": (
        "env_",
        "environment_id",
        lambda c, v: create(c, environment_id=v),
    ),
    "deployments.create(vault_ids)": (
        "vault_",
        "vault_ids[1]",
        lambda c, v: create(c, vault_ids=[VAULT, v]),
    ),
    "deployments.update(agent)": (
        "agent_",
        "agent",
        lambda c, v: c.deployments.update(DEP, agent=v),
    ),
    "deployments.update(environment_id)": (
        "env_",
        "environment_id",
        lambda c, v: c.deployments.update(DEP, environment_id=v),
    ),
    "deployments.update(vault_ids)": (
        "vault_",
        "vault_ids[0]",
        lambda c, v: c.deployments.update(DEP, vault_ids=[v]),
    ),
    "deployments.bulk_archive": (
        "dep_",
        "ids[1]",
        lambda c, v: c.deployments.bulk_archive([DEP, v]),
    ),
    "deployments.bulk_pause": ("dep_", "ids[0]", lambda c, v: c.deployments.bulk_pause([v])),
    "deployments.bulk_unpause": (
        "dep_",
        "ids[0]",
        lambda c, v: c.deployments.bulk_unpause([v]),
    ),
    "deployments.runs.list": ("dep_", "deployment_id", lambda c, v: c.deployments.runs.list(v)),
    "deployments.runs.list(after_id)": (
        "drun_",
        "after_id",
        lambda c, v: c.deployments.runs.list(DEP, after_id=v),
    ),
    "deployments.runs.list(before_id)": (
        "drun_",
        "before_id",
        lambda c, v: c.deployments.runs.list(DEP, before_id=v),
    ),
    "deployments.runs.get(deployment_id)": (
        "dep_",
        "deployment_id",
        lambda c, v: c.deployments.runs.get(v, RUN),
    ),
    "deployments.runs.get(run_id)": (
        "drun_",
        "run_id",
        lambda c, v: c.deployments.runs.get(DEP, v),
    ),
    "deployment_runs.list(deployment_id)": (
        "dep_",
        "deployment_id",
        lambda c, v: c.deployment_runs.list(deployment_id=v),
    ),
    "deployment_runs.list(after_id)": (
        "drun_",
        "after_id",
        lambda c, v: c.deployment_runs.list(after_id=v),
    ),
    "deployment_runs.list(before_id)": (
        "drun_",
        "before_id",
        lambda c, v: c.deployment_runs.list(before_id=v),
    ),
    "deployment_runs.get": ("drun_", "run_id", lambda c, v: c.deployment_runs.get(v)),
}

VALID_ID = re.compile(r"(dep|drun|agent|env|vault)_[0-9a-z]{1,64}")
HOSTILE = [
    "../", "..", "/", "\\", "?", "#", "%2F", "%2f", "%00", "&", "=", ";", ":", "@", "+",
    " ", "\t", "\n", "\r\n", "\x00", "\u00a0", "\u200b", "\ufeff",
    "е",  # Cyrillic small ie, looks like Latin e
    "о",  # Cyrillic small o
    "０", "９",  # fullwidth digits
    "ａ",  # fullwidth a
    "A", "Z", "_", "-", ".", "~",
]  # fmt: skip
cores = st.from_regex(r"[0-9a-z]{1,64}", fullmatch=True)
non_strings = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.binary(max_size=20),
    st.lists(st.text(max_size=5), max_size=2),
    st.just(b"dep_019ec556114c78f8b60ee34fcb98bf59"),
)


def bad_ids(prefix: str) -> st.SearchStrategy[Any]:
    """Values that are not a valid id of ``prefix`` but often look close to one."""
    inserted = st.builds(
        lambda core, token, at: (prefix + core)[:at] + token + (prefix + core)[at:],
        cores,
        st.sampled_from(HOSTILE),
        st.integers(min_value=0, max_value=80),
    )
    return st.one_of(
        inserted,
        st.sampled_from(["", prefix, prefix.upper() + "abc", prefix[:-1] + "-abc"]),
        st.integers(min_value=65, max_value=5000).map(lambda n: prefix + "a" * n),
        cores.filter(lambda core: not core.isdigit()).map(lambda core: prefix + core.upper()),
        st.sampled_from(["dep_", "drun_", "agent_", "env_", "vault_"])
        .filter(lambda other: other != prefix)
        .flatmap(lambda other: cores.map(lambda core: other + core)),
        st.text(max_size=80).filter(lambda text: VALID_ID.fullmatch(text) is None),
        non_strings,
    )


@pytest.mark.parametrize("label", sorted(ID_TARGETS))
@PROPERTY
@given(data=st.data())
def test_every_id_parameter_refuses_hostile_ids(label: str, data: st.DataObject) -> None:
    prefix, param, invoke = ID_TARGETS[label]
    value = data.draw(bad_ids(prefix), label="id")
    assert_refused(invoke, value, param)


@pytest.mark.parametrize(
    "label",
    [
        "deployments.get",
        "deployments.archive",
        "deployments.runs.get(run_id)",
        "deployment_runs.get",
    ],
)
def test_required_ids_refuse_none(label: str) -> None:
    _, param, invoke = ID_TARGETS[label]
    assert_refused(invoke, None, param)


# -- names, metadata, events, schedules ----------------------------------------------------

bad_names = st.one_of(
    st.text(min_size=257, max_size=600),
    st.sampled_from(["", " ", "\t\n"]),
    non_strings,
)


@PROPERTY
@given(value=bad_names, method=st.sampled_from(["create", "update"]))
def test_names(value: Any, method: str) -> None:
    if method == "create":
        assert_refused(lambda c, v: create(c, name=v), value, "name")
    else:
        assert_refused(lambda c, v: c.deployments.update(DEP, name=v), value, "name")


metadata_keys = st.text(min_size=1, max_size=64).filter(lambda key: key != "cas_config")
non_string_values = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2)
)
bad_metadata = st.one_of(
    st.dictionaries(metadata_keys, st.text(max_size=5), min_size=17, max_size=20),
    st.builds(lambda n: {"k" * n: "v"}, st.integers(min_value=65, max_value=300)),
    st.builds(lambda n: {"key": "v" * n}, st.integers(min_value=513, max_value=2000)),
    st.builds(lambda key, value: {key: value}, metadata_keys, non_string_values),
    st.builds(lambda value: {"team": "a", "cas_config": value}, non_string_values),
    st.sampled_from([{"": "v"}, {1: "v"}, {None: "v"}, ["team", "a"], "team=a", 5]),
)


@PROPERTY
@given(value=bad_metadata, method=st.sampled_from(["create", "update"]))
def test_metadata(value: Any, method: str) -> None:
    if method == "create":
        assert_refused(lambda c, v: create(c, metadata=v), value, "metadata")
    else:
        assert_refused(lambda c, v: c.deployments.update(DEP, metadata=v), value, "metadata")


def test_sixteen_metadata_keys_plus_cas_config_are_fine() -> None:
    metadata: dict[str, Any] = {f"k{i}": "v" for i in range(16)}
    metadata["cas_config"] = {"session_strategy": "new_session"}
    error, sent = asyncio.run(_attempt(lambda c, v: create(c, metadata=v), metadata))
    # It got past validation: the refusing transport was reached.
    assert isinstance(error, AssertionError)
    assert sent == 1


bad_events = st.one_of(
    st.just([]),
    st.integers(min_value=51, max_value=120).map(lambda n: [EVENT] * n),
    st.text(min_size=1, max_size=20)
    .filter(lambda kind: kind not in ("user.message", "user.define_outcome", "system.message"))
    .map(lambda kind: [{"type": kind, "content": "hi"}]),
    st.sampled_from(
        [
            [{"content": "no type"}],
            [{"type": "user.message"}],
            [{"type": "user.message", "content": ""}],
            [{"type": "user.message", "content": 5}],
            [{"type": "user.define_outcome"}],
            ["user.message"],
            [None],
            "user.message",
            {"type": "user.message", "content": "hi"},
        ]
    ),
)


@PROPERTY
@given(value=bad_events, method=st.sampled_from(["create", "update"]))
def test_initial_events(value: Any, method: str) -> None:
    if method == "create":
        assert_refused(lambda c, v: create(c, initial_events=v), value, "initial_events")
    else:
        assert_refused(
            lambda c, v: c.deployments.update(DEP, initial_events=v), value, "initial_events"
        )


cron_field = st.sampled_from(["0", "*", "*/5", "1-5", "MON", "JAN", "0,30"])
bad_expressions = st.one_of(
    st.lists(cron_field, min_size=4, max_size=4).map(" ".join),
    st.lists(cron_field, min_size=6, max_size=7).map(" ".join),
    st.sampled_from(
        [
            "",
            "@daily",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "5-1 * * * *",
            "*/0 * * * *",
            "0 9 ? * MON",
            "0 9 L * *",
            "0 0 * * " + "1" * 5000,
            "*/" + "9" * 5000 + " * * * *",
        ]
    ),
)
bad_schedules = st.one_of(
    bad_expressions.map(lambda e: {"type": "cron", "expression": e, "timezone": "UTC"}),
    st.sampled_from(["Mars/Olympus", "UTC+25", "../../etc/localtime", "", "asia/shanghai "]).map(
        lambda tz: {"type": "cron", "expression": "0 9 * * *", "timezone": tz}
    ),
    st.sampled_from(
        [
            {"type": "rrule", "expression": "0 9 * * *", "timezone": "UTC"},
            {"type": "cron", "expression": "0 9 * * *"},
            {"type": "cron", "expression": 9, "timezone": "UTC"},
            {"type": "cron", "expression": "0 9 * * *", "timezone": None},
            "0 9 * * *",
            ["cron"],
        ]
    ),
)


@PROPERTY
@given(value=bad_schedules, method=st.sampled_from(["create", "update"]))
def test_schedules(value: Any, method: str) -> None:
    if method == "create":
        assert_refused(lambda c, v: create(c, schedule=v), value, "schedule")
    else:
        assert_refused(lambda c, v: c.deployments.update(DEP, schedule=v), value, "schedule")


# -- list parameters ----------------------------------------------------------------------

LISTS: dict[str, Callable[..., object]] = {
    "deployments.list": lambda c, **kw: c.deployments.list(**kw),
    "deployments.runs.list": lambda c, **kw: c.deployments.runs.list(DEP, **kw),
    "deployment_runs.list": lambda c, **kw: c.deployment_runs.list(**kw),
}
bad_limits = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=1001),
    st.just(10**5000),
    st.booleans(),
    st.floats(min_value=1, max_value=1000),
    st.sampled_from(["10", b"10", None]).filter(lambda v: v is not None),
)


@pytest.mark.parametrize("method", sorted(LISTS))
@FEW
@given(value=bad_limits)
def test_page_sizes(method: str, value: Any) -> None:
    assert_refused(lambda c, v: LISTS[method](c, limit=v), value, "limit")


flags_as_other_things = st.one_of(
    st.sampled_from(["true", "false", "True", "False", "0", "1", "", "yes"]),
    st.integers(min_value=0, max_value=1),
    st.just(b"true"),
)


@pytest.mark.parametrize(
    ("method", "flag"),
    [("deployments.list", "include_archived"), ("deployment_runs.list", "has_error")],
)
@FEW
@given(value=flags_as_other_things)
def test_booleans_passed_as_strings_or_ints(method: str, flag: str, value: Any) -> None:
    assert_refused(lambda c, v: LISTS[method](c, **{flag: v}), value, flag)


@pytest.mark.parametrize(
    ("method", "param"),
    [
        ("deployments.list", "status"),
        ("deployments.runs.list", "status"),
        ("deployment_runs.list", "status"),
        ("deployment_runs.list", "trigger_type"),
    ],
)
@FEW
@given(value=st.one_of(st.text(max_size=20), st.integers()))
def test_unknown_filter_values(method: str, param: str, value: Any) -> None:
    allowed = {"active", "paused", "pending", "running", "completed", "failed", "skipped"}
    allowed |= {"manual", "schedule", "retry"}
    if value in allowed:
        return
    assert_refused(lambda c, v: LISTS[method](c, **{param: v}), value, param)


bad_timestamps = st.one_of(
    st.sampled_from(["yesterday", "2026-13-01T00:00:00Z", "2026-06-14T08:00:00", "", "now"]),
    st.just(datetime(2026, 6, 14, 8, 0, 0)),  # naive: which zone?
    st.integers(),
    st.floats(allow_nan=False),
)


@pytest.mark.parametrize(
    ("method", "param"),
    [
        ("deployments.list", "created_after"),
        ("deployments.list", "created_before"),
        ("deployments.runs.list", "triggered_after"),
        ("deployments.runs.list", "triggered_before"),
    ],
)
@FEW
@given(value=bad_timestamps)
def test_timestamps(method: str, param: str, value: Any) -> None:
    assert_refused(lambda c, v: LISTS[method](c, **{param: v}), value, param)


# -- other write arguments ---------------------------------------------------------------------

WRITES: dict[str, Invoke] = {
    "create": lambda c, v: create(c, idempotency_key=v),
    "update": lambda c, v: c.deployments.update(DEP, name="x", idempotency_key=v),
    "pause": lambda c, v: c.deployments.pause(DEP, idempotency_key=v),
    "unpause": lambda c, v: c.deployments.unpause(DEP, idempotency_key=v),
    "archive": lambda c, v: c.deployments.archive(DEP, idempotency_key=v),
    "run": lambda c, v: c.deployments.run(DEP, idempotency_key=v),
}
bad_keys = st.one_of(
    st.just(""),
    st.integers(min_value=256, max_value=1000).map(lambda n: "k" * n),
    st.sampled_from(["key\n", "key\r\nX-Evil: 1", "\x00", "tab\there"]),
    non_strings,
)


@pytest.mark.parametrize("method", sorted(WRITES))
@FEW
@given(value=bad_keys)
def test_idempotency_keys(method: str, value: Any) -> None:
    assert_refused(WRITES[method], value, "idempotency_key")


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("description", 5),
        ("resources", "file_1"),
        ("resources", [{"type": "file"}]),
        ("resources", [{"type": "memory_store", "memory_store_id": "m", "access": "all"}]),
        ("environment_variables", "1BAD=x"),
        ("environment_variables", 5),
        ("budget", "100 USD"),
        ("vault_ids", "vault_abc"),
        ("vault_ids", [VAULT] * 51),
    ],
)
def test_other_create_arguments(param: str, value: Any) -> None:
    assert_refused(lambda c, v: create(c, **{param: v}), value, param)


# -- and the fake server agrees that nothing arrived -----------------------------------------


async def test_the_fake_server_counts_no_request_for_any_bad_call(
    qoder_fake_server: FakeQoderServer,
) -> None:
    bad = "dep_abc/../../archive"
    calls: list[Callable[[QoderClient], object]] = [
        lambda c: c.deployments.get(bad),
        lambda c: c.deployments.archive("dep_ABC"),
        lambda c: c.deployments.pause("dep_abc?x=1"),
        lambda c: c.deployments.run("dep_abc#x"),
        lambda c: c.deployments.update("dep_%2Fabc", name="x"),
        lambda c: c.deployments.runs.get(DEP, "drun_１２"),
        lambda c: c.deployment_runs.get("drun_аbc"),  # Cyrillic a
        lambda c: c.deployments.list(limit=0),
        lambda c: c.deployments.list(include_archived="false"),  # type: ignore[arg-type]
        lambda c: c.deployment_runs.list(has_error="true"),  # type: ignore[arg-type]
        lambda c: create(c, name=""),
        lambda c: create(c, initial_events=[EVENT] * 51),
        lambda c: create(c, metadata={f"k{i}": "v" for i in range(17)}),
        lambda c: create(c, schedule={"type": "cron", "expression": "0 9 * *", "timezone": "UTC"}),
        lambda c: c.deployments.bulk_archive([DEP, bad]),
    ]

    async def invoke(call: Callable[[QoderClient], object], client: QoderClient) -> None:
        result = call(client)
        if inspect.isawaitable(result) and not isinstance(result, BulkJob):
            await result

    async with QoderClient(qoder_fake_server.token, base_url=qoder_fake_server.url) as client:
        for call in calls:
            with pytest.raises(InvalidArgumentError):
                await invoke(call, client)
    assert sum(qoder_fake_server.request_counts.values()) == 0


def test_bulk_checks_the_ids_of_deployment_objects_too() -> None:
    """A deployment from a server's list may carry any id; it must not reach a URL."""
    document = json.loads((Path(__file__).parent / "fixtures" / "deployment.json").read_text())
    document["id"] = "dep_abc/../../deployments"
    hostile = structure_deployment(document)
    assert_refused(lambda c, v: c.deployments.bulk_archive([v]), hostile, "ids[0].id")
