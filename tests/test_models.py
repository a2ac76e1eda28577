"""Decoding the recorded wire bodies into models, and encoding models into request bodies."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import pickle
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qoder_async import _serde
from qoder_async._serde import DecodeFailure
from qoder_async.models import (
    AgentRef,
    DefineOutcome,
    Deployment,
    DeploymentRun,
    DeploymentStatus,
    FileResource,
    GitHubRepositoryResource,
    MemoryStoreResource,
    Page,
    PausedReason,
    RunError,
    RunStatus,
    Schedule,
    ScheduleSpec,
    SystemMessage,
    TextBlock,
    TriggerType,
    UnknownEvent,
    UnknownResource,
    UserMessage,
)

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_FIXTURES = Path(__file__).parents[2] / "shared" / "api" / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# --- every recorded body -------------------------------------------------------------


def check_deployment(body: Any) -> None:
    d = _serde.structure_deployment(body)
    assert d.id == "dep_019ec556114c78f8b60ee34fcb98bf59"
    assert d.type == "deployment"
    assert d.name == "api-doc-verification-deployment"
    assert d.description == "Deployment created for API documentation verification"
    assert d.agent == AgentRef(id="agent_019eb4d4a06d747c865d5800b9c57ae2", version=1)
    assert d.environment_id == "env_019e64e01a137caf953ac2ac7b42ec5c"
    assert d.status is DeploymentStatus.ACTIVE
    assert d.paused_reason is None
    assert d.archived_at is None
    assert not d.is_archived
    assert not d.is_paused
    assert d.created_at == utc(2026, 6, 14, 8, 53, 32)
    assert d.created_at.tzinfo is UTC
    assert d.updated_at == utc(2026, 6, 14, 8, 53, 32)
    assert d.initial_events == (UserMessage(content="Generate today's status report"),)
    event = d.initial_events[0]
    assert isinstance(event, UserMessage)
    assert isinstance(event.content, str)
    assert d.resources == ()
    assert d.vault_ids == ()
    assert d.environment_variables is None
    assert d.budget is None
    assert d.extra == {}
    assert d.schedule is not None
    assert d.schedule.expression == "0 9 * * *"
    assert d.schedule.timezone == "Asia/Shanghai"
    assert d.schedule.type == "cron"
    assert d.schedule.last_run_at is None  # the key is absent before the first run
    assert d.schedule.upcoming_runs_at == tuple(utc(2026, 6, day, 1) for day in range(15, 20))
    assert d.metadata == body["metadata"]
    cas = d.cas_config
    assert cas is not None
    assert cas.session_strategy == "new_session"
    assert cas.config is not None
    assert (cas.config.max_retries, cas.config.timeout_ms, cas.config.max_concurrent) == (
        0,
        300000,
        1,
    )
    assert cas.stats is not None
    assert (cas.stats.total_runs, cas.stats.total_failures, cas.stats.consecutive_failures) == (
        0,
        0,
        0,
    )
    assert cas.stats.next_trigger_at == utc(2026, 6, 15, 1)
    assert cas.stats.last_triggered_at is None


def check_archived(body: Any) -> None:
    d = _serde.structure_deployment(body)
    assert d.id == "dep_019ec55a2b687b3f94eee77dd77e4b2a"
    assert d.name == "api-doc-verification-deployment-v2_archived_1781427523"
    assert d.archived_at == utc(2026, 6, 14, 8, 58, 42)
    assert d.is_archived
    assert not d.is_paused
    # Archiving leaves the status alone.
    assert d.status is DeploymentStatus.ACTIVE
    assert d.paused_reason is None
    assert d.schedule is not None
    assert d.schedule.upcoming_runs_at == ()
    assert d.schedule.last_run_at == utc(2026, 6, 14, 8, 58, 17)
    assert d.schedule.expression == "30 9 * * 1-5"
    cas = d.cas_config
    assert cas is not None
    assert cas.stats is not None
    assert cas.stats.total_runs == 1
    assert cas.stats.last_triggered_at == utc(2026, 6, 14, 8, 58, 17)
    assert cas.stats.next_trigger_at == utc(2026, 6, 15, 1, 30)


def check_paused(body: Any) -> None:
    d = _serde.structure_deployment(body)
    assert d.status is DeploymentStatus.PAUSED
    assert d.paused_reason == PausedReason(type="manual")
    assert d.paused_reason is not None
    assert d.paused_reason.error is None
    assert d.is_paused
    assert not d.is_archived
    assert d.updated_at == utc(2026, 6, 14, 8, 58, 22)
    assert d.schedule is not None
    assert len(d.schedule.upcoming_runs_at) == 5  # pause leaves them in place
    assert d.schedule.upcoming_runs_at[0] == utc(2026, 6, 15, 1, 30)


def check_deployment_page(body: Any) -> None:
    page = _serde.structure_page(body, Deployment)
    assert len(page.data) == 1
    assert page.data[0].id == "dep_019ec55a2b687b3f94eee77dd77e4b2a"
    assert page.data[0].created_at == utc(2026, 6, 14, 8, 58, 1)
    assert page.first_id == "dep_019ec55a2b687b3f94eee77dd77e4b2a"
    assert page.last_id == "dep_019ec53748f7784bac33f208c0f66982"
    # The published example is trimmed: last_id is not the last item's id.
    assert page.last_id != page.data[-1].id
    assert page.has_more is True
    assert page.next_page == "dep_019ec53748f7784bac33f208c0f66982"
    assert page.next_cursor == "dep_019ec53748f7784bac33f208c0f66982"


def check_run(body: Any) -> None:
    r = _serde.structure_run(body)
    assert r.id == "drun_019ec55a68af73028afa5b87931cb2f3"
    assert r.type == "deployment_run"
    assert r.deployment_id == "dep_019ec55a2b687b3f94eee77dd77e4b2a"
    assert r.agent.id == "agent_019ebb21ef8e7df6a559052c94875160"
    assert r.status is RunStatus.COMPLETED
    assert r.is_terminal
    assert r.error is None
    assert r.trigger_context.type is TriggerType.MANUAL
    assert r.session_id == "sess_019ec55a68b37e1e8d660691af161ab4"
    assert r.duration_ms == 17268
    assert r.created_at == utc(2026, 6, 14, 8, 58, 17, 133340)  # 5 fractional digits
    assert r.triggered_at == r.created_at
    assert r.completed_at == utc(2026, 6, 14, 8, 58, 34, 433744)
    assert r.cas_run_extras is not None
    assert r.cas_run_extras.attempt == 1
    assert r.cas_run_extras.turn_id == "turn_019ec55a68b87a9dafad75c1554d1102"
    assert r.cas_run_extras.started_at == utc(2026, 6, 14, 8, 58, 17, 165588)
    assert r.extra == {}


def check_running_run(body: Any) -> None:
    r = _serde.structure_run(body)
    assert r.id == "drun_019ec55694c07f2a9b402ffb4448ec18"
    assert r.status is RunStatus.RUNNING
    assert not r.is_terminal
    assert r.completed_at is None
    assert r.duration_ms is None
    # 9 fractional digits, truncated to microseconds.
    assert r.created_at == utc(2026, 6, 14, 8, 54, 6, 271902)
    assert r.cas_run_extras is not None
    assert r.cas_run_extras.started_at == utc(2026, 6, 14, 8, 54, 6, 310253)


def check_run_page(body: Any) -> None:
    page = _serde.structure_page(body, DeploymentRun)
    assert page.data == (_serde.structure_run(load("deployment_run.json")),)
    assert page.first_id == page.last_id == "drun_019ec55a68af73028afa5b87931cb2f3"
    assert page.has_more is False
    assert page.next_page is None
    assert page.next_cursor is None


def check_empty_page(body: Any) -> None:
    for item in (Deployment, DeploymentRun):
        page = _serde.structure_page(body, item)
        assert page.data == ()
        assert page.first_id is None
        assert page.last_id is None
        assert page.has_more is False
        assert page.next_page is None  # the generic envelope has no next_page key
        assert page.next_cursor is None


def check_error_body(body: Any) -> None:
    # An error envelope handed to a model decoder fails on its type, not with a KeyError.
    with pytest.raises(DecodeFailure, match=r"^deployment\.type: expected 'deployment'"):
        _serde.structure_deployment(body)
    with pytest.raises(DecodeFailure, match=r"^deployment_run\.type: "):
        _serde.structure_run(body)
    with pytest.raises(DecodeFailure, match=r"^page\.data: missing required field"):
        _serde.structure_page(body, Deployment)


def check_create_request(body: Any) -> None:
    models: dict[str, Any] = {
        "name": "daily-report",
        "agent": "agent_xxx",
        "environment_id": "env_xxx",
        # A model keeps what it holds: the request form of content is blocks.
        "initial_events": [
            UserMessage(content=(TextBlock(text="Generate today's status report"),))
        ],
        "resources": [],
        "vault_ids": [],
    }
    if "schedule" in body:
        models["schedule"] = ScheduleSpec(expression="0 9 * * *", timezone="Asia/Shanghai")
    encoded = _serde.unstructure(models)
    assert encoded == body
    assert list(encoded) == list(models)


def check_update_request(body: Any) -> None:
    encoded = _serde.unstructure(
        {
            "name": "api-doc-verification-deployment-v2",
            "schedule": ScheduleSpec(expression="30 9 * * 1-5", timezone="Asia/Shanghai"),
        }
    )
    assert encoded == body


def check_run_request(body: Any) -> None:
    assert body == {}
    with pytest.raises(DecodeFailure, match=r"^deployment_run\.id: missing required field$"):
        _serde.structure_run(body)


CHECKS: dict[str, Callable[[Any], None]] = {
    "deployment.json": check_deployment,
    "deployment_archived.json": check_archived,
    "deployment_paused.json": check_paused,
    "deployment_list_page.json": check_deployment_page,
    "deployment_run.json": check_run,
    "deployment_run_running.json": check_running_run,
    "deployment_run_list_page.json": check_run_page,
    "list_page_empty.json": check_empty_page,
    "error_400.json": check_error_body,
    "error_401.json": check_error_body,
    "error_404.synthesized.json": check_error_body,
    "error_409.synthesized.json": check_error_body,
    "create_request_cron.json": check_create_request,
    "create_request_manual.synthesized.json": check_create_request,
    "update_request.json": check_update_request,
    "run_request.json": check_run_request,
}


def test_every_fixture_has_a_check() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_fixture(name: str) -> None:
    CHECKS[name](load(name))


def _canonical_sha256(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# Digests of the API reference's fixtures, taken when they were copied into tests/fixtures:
# the copies are checked against them everywhere, and the reference itself wherever a
# checkout has it beside it (../shared, which a clone of this repository alone lacks).
REFERENCE = json.loads((FIXTURES.parent / "fixtures_reference.json").read_text())["sha256"]


def test_fixture_copies_match_the_recorded_reference() -> None:
    assert sorted(REFERENCE) == sorted(p.name for p in FIXTURES.glob("*.json"))
    for name, digest in REFERENCE.items():
        assert _canonical_sha256(load(name)) == digest, name


def test_the_recorded_reference_matches_the_reference_where_it_is_beside_the_checkout() -> None:
    shared = {p.name: p for p in SHARED_FIXTURES.glob("*.json")}  # empty without ../shared
    for name, path in shared.items():
        assert _canonical_sha256(json.loads(path.read_text())) == REFERENCE.get(name), name
    assert not shared or sorted(shared) == sorted(REFERENCE)


# --- timestamps ----------------------------------------------------------------------


@pytest.mark.parametrize("digits", range(10))
def test_timestamps_with_0_to_9_fractional_digits(digits: int) -> None:
    fraction = "123456789"[:digits]
    stamp = "2026-06-14T08:54:06" + (f".{fraction}" if digits else "") + "Z"
    body = load("deployment_run.json") | {"created_at": stamp}
    run = _serde.structure_run(body)
    expected_us = int(fraction[:6].ljust(6, "0")) if digits else 0
    assert run.created_at == utc(2026, 6, 14, 8, 54, 6, expected_us)
    assert run.created_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-06-14t08:54:06z", utc(2026, 6, 14, 8, 54, 6)),
        ("2026-06-14T08:54:06+00:00", utc(2026, 6, 14, 8, 54, 6)),
        ("2026-06-14T10:54:06.5+02:00", utc(2026, 6, 14, 8, 54, 6, 500000)),
        ("2026-06-14T00:30:00-01:00", utc(2026, 6, 14, 1, 30)),
    ],
)
def test_timestamps_normalised_to_utc(stamp: str, expected: datetime) -> None:
    run = _serde.structure_run(load("deployment_run.json") | {"completed_at": stamp})
    assert run.completed_at == expected
    assert run.completed_at is not None
    assert run.completed_at.tzinfo is UTC


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-06-14T08:54:06",  # no offset
        "2026-06-14",
        "yesterday",
        "",
        "2026-13-01T00:00:00Z",
        "2026-06-14T25:00:00Z",
        "0001-01-01T00:00:00+01:00",  # out of range once in UTC
        "2026-06-14T08:54:06\udc80Z",
    ],
)
def test_bad_timestamps_are_decode_failures(stamp: str) -> None:
    body = load("deployment_run.json") | {"triggered_at": stamp}
    with pytest.raises(DecodeFailure) as info:
        _serde.structure_run(body)
    assert info.value.path == "deployment_run.triggered_at"
    assert str(info.value).startswith("deployment_run.triggered_at: expected an RFC 3339")


# --- forward compatibility -----------------------------------------------------------


def test_unknown_fields_are_kept_in_extra() -> None:
    body = copy.deepcopy(load("deployment_paused.json"))
    body["brand_new"] = {"nested": [1, 2]}
    body["agent"]["channel"] = "beta"
    body["schedule"]["jitter_s"] = 30
    body["paused_reason"]["since"] = "x"
    body["initial_events"][0]["priority"] = 1
    d = _serde.structure_deployment(body)
    assert d.extra == {"brand_new": {"nested": [1, 2]}}
    assert d.agent.extra == {"channel": "beta"}
    assert d.schedule is not None
    assert d.schedule.extra == {"jitter_s": 30}
    assert d.paused_reason is not None
    assert d.paused_reason.extra == {"since": "x"}
    assert d.initial_events[0] == UserMessage(
        content="Generate today's status report", extra={"priority": 1}
    )

    run_body = copy.deepcopy(load("deployment_run.json"))
    run_body["cost"] = {"usd": "0.01"}
    run_body["trigger_context"]["scheduled_at"] = "2026-06-15T01:00:00Z"
    run_body["cas_run_extras"]["worker"] = "w1"
    run_body["error"] = {"type": "agent_archived", "message": "gone", "retryable": False}
    run = _serde.structure_run(run_body)
    assert run.extra == {"cost": {"usd": "0.01"}}
    assert run.trigger_context.extra == {"scheduled_at": "2026-06-15T01:00:00Z"}
    assert run.cas_run_extras is not None
    assert run.cas_run_extras.extra == {"worker": "w1"}
    assert run.error == RunError(type="agent_archived", message="gone", extra={"retryable": False})

    page_body = load("list_page_empty.json") | {"total": 0}
    assert _serde.structure_page(page_body, Deployment).extra == {"total": 0}


def test_unknown_enum_values_are_kept_as_plain_strings_when_lenient() -> None:
    body = load("deployment.json") | {"status": "draining"}
    d = _serde.structure_deployment(body, strict=False)
    assert d.status == "draining"
    assert type(d.status) is str
    assert not d.is_paused
    with pytest.raises(DecodeFailure, match=r"^deployment\.status: unknown value 'draining'$"):
        _serde.structure_deployment(body)

    body = load("deployment_run.json") | {"status": "cancelled", "trigger_context": {"type": "api"}}
    run = _serde.structure_run(body, strict=False)
    assert type(run.status) is str
    assert run.status == "cancelled"
    assert type(run.trigger_context.type) is str
    assert run.trigger_context.type == "api"
    assert not run.is_terminal


@pytest.mark.parametrize("status", list(RunStatus))
def test_known_run_statuses_become_members(status: RunStatus) -> None:
    run = _serde.structure_run(load("deployment_run.json") | {"status": status.value})
    assert run.status is status


def test_content_block_arrays_and_other_events() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}
    rubric = {"type": "text", "content": "all tests pass"}
    events: list[dict[str, Any]] = [
        {"type": "user.message", "content": [{"type": "text", "text": "hi", "cache": 1}, image]},
        {"type": "system.message", "content": [{"type": "text", "text": "be brief"}]},
        {"type": "system.message", "content": "plain"},
        {"type": "user.define_outcome", "description": "ship", "rubric": rubric},
        {"type": "user.define_outcome", "description": "x", "max_iterations": 3},
        {"type": "user.tool_result", "tool_use_id": "t1"},
    ]
    body = load("deployment.json") | {"initial_events": events}
    with pytest.raises(DecodeFailure, match=r"^deployment\.initial_events\[5\]\.type: unknown"):
        _serde.structure_deployment(body)
    d = _serde.structure_deployment(body, strict=False)
    assert d.initial_events == (
        UserMessage(content=(TextBlock(text="hi", extra={"cache": 1}), image)),
        SystemMessage(content=(TextBlock(text="be brief"),)),
        SystemMessage(content="plain"),
        DefineOutcome(description="ship", rubric=rubric),
        DefineOutcome(description="x", max_iterations=3),
        UnknownEvent(type="user.tool_result", raw=events[5]),
    )


def test_resources_of_every_kind() -> None:
    resources: list[dict[str, Any]] = [
        {"type": "file", "file_id": "file_1"},
        {"type": "file", "file_id": "file_2", "mount_path": "/mnt/a"},
        {
            "type": "github_repository",
            "url": "https://github.com/o/r",
            "checkout": {"type": "branch", "name": "main"},
        },
        {"type": "memory_store", "memory_store_id": "memstore_1", "access": "read_only"},
        {"type": "s3_bucket", "bucket": "b"},
    ]
    body = load("deployment.json") | {"resources": resources}
    with pytest.raises(DecodeFailure, match=r"^deployment\.resources\[4\]\.type: unknown"):
        _serde.structure_deployment(body)
    d = _serde.structure_deployment(body, strict=False)
    assert d.resources == (
        FileResource(file_id="file_1"),
        FileResource(file_id="file_2", mount_path="/mnt/a"),
        GitHubRepositoryResource(
            url="https://github.com/o/r", checkout={"type": "branch", "name": "main"}
        ),
        MemoryStoreResource(memory_store_id="memstore_1", access="read_only"),
        UnknownResource(type="s3_bucket", raw=resources[4]),
    )


def test_optional_fields_of_a_deployment() -> None:
    body = load("deployment.json") | {
        "environment_variables": "A=1;B=2",
        "budget": {"type": "monthly", "max_list_cost": {"amount": "10", "currency": "USD"}},
        "vault_ids": ["vault_1"],
        "schedule": None,
        "description": None,
    }
    d = _serde.structure_deployment(body)
    assert d.environment_variables == "A=1;B=2"
    assert d.budget == body["budget"]
    assert d.vault_ids == ("vault_1",)
    assert d.schedule is None
    assert d.description is None


def test_null_collections_read_as_empty() -> None:
    body = load("deployment.json") | {
        "resources": None,
        "vault_ids": None,
        "metadata": None,
        "initial_events": None,
    }
    d = _serde.structure_deployment(body)
    assert (d.resources, d.vault_ids, d.metadata, d.initial_events) == ((), (), {}, ())
    assert d.cas_config is None


def test_cas_config_view_is_decoded_leniently() -> None:
    metadata = {
        "team": "infra",
        "cas_config": {
            "session_strategy": 7,
            "config": {"max_retries": "3", "timeout_ms": 1000, "burst": 2},
            "stats": {"total_runs": True, "next_trigger_at": "soon", "last_triggered_at": None},
            "mode": "x",
        },
    }
    d = _serde.structure_deployment(load("deployment.json") | {"metadata": metadata})
    cas = d.cas_config
    assert cas is not None
    # What does not fit reads as None, its raw value kept in extra.
    assert cas.session_strategy is None
    assert cas.extra == {"mode": "x", "session_strategy": 7}
    assert cas.config is not None
    assert (cas.config.max_retries, cas.config.timeout_ms) == (None, 1000)
    assert cas.config.extra == {"burst": 2, "max_retries": "3"}
    assert cas.stats is not None
    assert cas.stats.total_runs is None
    assert cas.stats.next_trigger_at is None
    assert cas.stats.extra == {"total_runs": True, "next_trigger_at": "soon"}
    assert d.metadata["team"] == "infra"  # the raw metadata is untouched

    no_cas = load("deployment.json") | {"metadata": {"cas_config": "off"}}
    assert _serde.structure_deployment(no_cas).cas_config is None


@pytest.mark.parametrize(
    ("next_page", "has_more", "last_id", "expected"),
    [
        ("cur_1", True, "dep_9", "cur_1"),
        ("cur_1", False, None, "cur_1"),
        (None, True, "dep_9", "dep_9"),
        ("", True, "dep_9", "dep_9"),
        (None, False, "dep_9", None),
        (None, True, None, None),
    ],
)
def test_next_cursor(
    next_page: str | None, has_more: bool, last_id: str | None, expected: str | None
) -> None:
    page = Page[int](data=(1,), first_id="dep_1", last_id=last_id, has_more=has_more)
    page = attrs.evolve(page, next_page=next_page)
    assert page.next_cursor == expected


# --- malformed input -----------------------------------------------------------------


def mutate(name: str, change: Callable[[Any], None]) -> Any:
    body = copy.deepcopy(load(name))
    change(body)
    return body


def run_with(**fields: Any) -> Any:
    return load("deployment_run.json") | fields


def deployment_with(**fields: Any) -> Any:
    return load("deployment.json") | fields


MALFORMED_DEPLOYMENTS: list[tuple[Any, str]] = [
    (None, "deployment: expected an object, got null"),
    ([], "deployment: expected an object, got an array"),
    ("dep_1", "deployment: expected an object, got 'dep_1'"),
    (mutate("deployment.json", lambda b: b.pop("id")), "deployment.id: missing required field"),
    (deployment_with(id=5), "deployment.id: expected a string, got 5"),
    (deployment_with(name=None), "deployment.name: expected a string, got null"),
    (deployment_with(status=["active"]), "deployment.status: expected a string, got an array"),
    (deployment_with(created_at=1718355212), "deployment.created_at: expected an RFC 3339"),
    (
        mutate("deployment.json", lambda b: b.pop("updated_at")),
        "deployment.updated_at: missing required field",
    ),
    (deployment_with(agent="agent_1"), "deployment.agent: expected an object, got 'agent_1'"),
    (
        mutate("deployment.json", lambda b: b["agent"].pop("version")),
        "deployment.agent.version: missing required field",
    ),
    (
        mutate("deployment.json", lambda b: b["agent"].update(version="1")),
        "deployment.agent.version: expected an integer, got '1'",
    ),
    (
        mutate("deployment.json", lambda b: b["agent"].update(version=True)),
        "deployment.agent.version: expected an integer, got a boolean",
    ),
    (deployment_with(initial_events={}), "deployment.initial_events: expected an array"),
    (deployment_with(initial_events=[3]), "deployment.initial_events[0]: expected an object"),
    (
        deployment_with(initial_events=[{"content": "x"}]),
        "deployment.initial_events[0].type: missing required field",
    ),
    (
        deployment_with(initial_events=[{"type": "user.message"}]),
        "deployment.initial_events[0].content: missing required field",
    ),
    (
        deployment_with(initial_events=[{"type": "user.message", "content": 5}]),
        "deployment.initial_events[0].content: expected a string or an array of blocks",
    ),
    (
        deployment_with(
            initial_events=[
                {"type": "user.message", "content": "ok"},
                {"type": "user.message", "content": [{"type": "text", "text": None}]},
            ]
        ),
        "deployment.initial_events[1].content[0].text: expected a string, got null",
    ),
    (
        deployment_with(initial_events=[{"type": "user.define_outcome", "description": 1}]),
        "deployment.initial_events[0].description: expected a string",
    ),
    (
        mutate("deployment.json", lambda b: b["schedule"]["upcoming_runs_at"].__setitem__(2, 0)),
        "deployment.schedule.upcoming_runs_at[2]: expected an RFC 3339 timestamp, got 0",
    ),
    (
        mutate("deployment.json", lambda b: b["schedule"].pop("expression")),
        "deployment.schedule.expression: missing required field",
    ),
    (deployment_with(schedule="0 9 * * *"), "deployment.schedule: expected an object"),
    (deployment_with(paused_reason={}), "deployment.paused_reason.type: missing required field"),
    (deployment_with(metadata=[]), "deployment.metadata: expected an object, got an array"),
    (deployment_with(resources=[{"type": "file"}]), "deployment.resources[0].file_id: missing"),
    (deployment_with(vault_ids=["vault_1", 2]), "deployment.vault_ids[1]: expected a string"),
    (deployment_with(budget="10 USD"), "deployment.budget: expected an object or null"),
    (deployment_with(type="deployment_run"), "deployment.type: expected 'deployment'"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED_DEPLOYMENTS)
def test_malformed_deployments(body: Any, message: str) -> None:
    with pytest.raises(DecodeFailure) as info:
        _serde.structure_deployment(body)
    assert str(info.value).startswith(message)


MALFORMED_RUNS: list[tuple[Any, str]] = [
    (run_with(deployment_id=None), "deployment_run.deployment_id: expected a string, got null"),
    (run_with(duration_ms=1.5), "deployment_run.duration_ms: expected an integer or null"),
    (run_with(trigger_context=None), "deployment_run.trigger_context: expected an object"),
    (
        mutate("deployment_run.json", lambda b: b.pop("trigger_context")),
        "deployment_run.trigger_context: missing required field",
    ),
    (run_with(error={"type": "x"}), "deployment_run.error.message: missing required field"),
    (run_with(cas_run_extras={"attempt": "1"}), "deployment_run.cas_run_extras.attempt"),
    (run_with(session_id=False), "deployment_run.session_id: expected a string or null"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED_RUNS)
def test_malformed_runs(body: Any, message: str) -> None:
    with pytest.raises(DecodeFailure) as info:
        _serde.structure_run(body)
    assert str(info.value).startswith(message)


def test_malformed_pages() -> None:
    empty = load("list_page_empty.json")
    cases: list[tuple[Any, str]] = [
        (empty | {"has_more": "no"}, "page.has_more: expected a boolean, got 'no'"),
        ({"data": []}, "page.has_more: missing required field"),
        (empty | {"data": {}}, "page.data: expected an array, got an object"),
        (empty | {"data": [{}]}, "page.data[0].id: missing required field"),
        (empty | {"next_page": 3}, "page.next_page: expected a string or null, got 3"),
        ("[]", "page: expected an object"),
    ]
    for body, message in cases:
        with pytest.raises(DecodeFailure) as info:
            _serde.structure_page(body, Deployment)
        assert str(info.value).startswith(message), body


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(DecodeFailure) as info:
        _serde.structure_deployment(deployment_with(created_at="x" * 5000))
    assert len(str(info.value)) < 120


def test_decode_failure_is_a_value_error_and_pickles() -> None:
    with pytest.raises(ValueError) as info:
        _serde.structure_deployment(deployment_with(id=None))
    failure = info.value
    assert isinstance(failure, DecodeFailure)
    clone = pickle.loads(pickle.dumps(failure))
    assert (clone.path, clone.reason, str(clone)) == (failure.path, failure.reason, str(failure))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def decoders() -> list[Callable[[Any], object]]:
    return [
        _serde.structure_deployment,
        _serde.structure_run,
        lambda obj: _serde.structure_page(obj, Deployment),
        lambda obj: _serde.structure_page(obj, DeploymentRun),
    ]


@given(JSON)
@settings(max_examples=300, deadline=None)
def test_random_json_only_ever_raises_decode_failure(value: Any) -> None:
    for decode in decoders():
        with contextlib.suppress(DecodeFailure):
            decode(value)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


VALID_BODIES: dict[str, Callable[[Any], object]] = {
    "deployment.json": _serde.structure_deployment,
    "deployment_archived.json": _serde.structure_deployment,
    "deployment_run_running.json": _serde.structure_run,
    "deployment_list_page.json": lambda obj: _serde.structure_page(obj, Deployment),
    "deployment_run_list_page.json": lambda obj: _serde.structure_page(obj, DeploymentRun),
}


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(VALID_BODIES)))
    body = copy.deepcopy(load(name))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(body) or [("data",)]))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(JSON)
    return name, body


@given(corrupted())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_corrupted_fixtures_only_ever_raise_decode_failure(case: tuple[str, Any]) -> None:
    name, body = case
    failures: list[DecodeFailure] = []
    try:
        VALID_BODIES[name](body)
    except DecodeFailure as exc:
        failures.append(exc)
    for failure in failures:
        assert re.match(r"(deployment|deployment_run|page)([.\[]|$)", failure.path)


# --- models and encoding -------------------------------------------------------------


def test_models_are_frozen_and_keyword_only() -> None:
    ref = AgentRef(id="agent_1", version=2)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ref.version = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        AgentRef("agent_1", "agent", 2)  # type: ignore[call-arg]


def test_runs_round_trip_through_unstructure() -> None:
    for name in ("deployment_run.json", "deployment_run_running.json"):
        run = _serde.structure_run(load(name))
        wire = json.loads(json.dumps(_serde.unstructure(run)))
        assert _serde.structure_run(wire) == run


def test_deployments_round_trip_keeping_content_as_sent() -> None:
    for name in ("deployment.json", "deployment_archived.json", "deployment_paused.json"):
        d = _serde.structure_deployment(load(name))
        wire = json.loads(json.dumps(_serde.unstructure(d)))
        assert wire["status"] == load(name)["status"]
        assert wire["initial_events"] == load(name)["initial_events"]
        assert _serde.structure_deployment(wire) == d
        blocks = (UserMessage(content=(TextBlock(text="Generate today's status report"),)),)
        with_blocks = attrs.evolve(d, initial_events=blocks)
        assert _serde.structure_deployment(_serde.unstructure(with_blocks)) == with_blocks


def test_unstructure_request_shapes() -> None:
    assert _serde.unstructure(UserMessage(content="hi")) == {
        "type": "user.message",
        "content": "hi",
    }
    assert _serde.unstructure(SystemMessage(content=(TextBlock(text="a"), {"type": "x"}))) == {
        "type": "system.message",
        "content": [{"type": "text", "text": "a"}, {"type": "x"}],
    }
    assert _serde.unstructure(FileResource(file_id="file_1")) == {
        "type": "file",
        "file_id": "file_1",
    }
    assert _serde.unstructure(DefineOutcome(description="d")) == {
        "type": "user.define_outcome",
        "description": "d",
    }
    repo = GitHubRepositoryResource(url="https://github.com/o/r", authorization_token="ghp_x")
    assert _serde.unstructure(repo) == {
        "type": "github_repository",
        "url": "https://github.com/o/r",
        "authorization_token": "ghp_x",
    }
    assert "ghp_x" not in repr(repo)
    assert _serde.unstructure(UnknownEvent(type="user.x", raw={"type": "old", "a": 1})) == {
        "type": "user.x",
        "a": 1,
    }
    # extra wins: in lenient mode it holds the raw value of a field that did not fit.
    assert _serde.unstructure(AgentRef(id="agent_1", version=2, extra={"id": "no", "b": 1})) == {
        "id": "no",
        "type": "agent",
        "version": 2,
        "b": 1,
    }
    assert _serde.unstructure(ScheduleSpec(expression="0 9 * * *", timezone="UTC")) == {
        "expression": "0 9 * * *",
        "timezone": "UTC",
        "type": "cron",
    }


def test_unstructure_timestamps_enums_and_pages() -> None:
    plus8 = timezone(timedelta(hours=8))
    assert _serde.unstructure(datetime(2026, 6, 14, 9, 0, 0, 5, tzinfo=plus8)) == (
        "2026-06-14T01:00:00.000005Z"
    )
    assert _serde.unstructure(datetime(2026, 6, 14, 9)) == "2026-06-14T09:00:00Z"
    schedule = Schedule(expression="0 9 * * *", timezone="UTC", upcoming_runs_at=(utc(2026, 1, 1),))
    assert _serde.unstructure(schedule) == {
        "type": "cron",
        "expression": "0 9 * * *",
        "timezone": "UTC",
        "upcoming_runs_at": ["2026-01-01T00:00:00Z"],
    }
    status = _serde.unstructure({"s": DeploymentStatus.PAUSED})["s"]
    assert type(status) is str
    assert status == "paused"
    page = _serde.structure_page(load("deployment_run_list_page.json"), DeploymentRun)
    wire = _serde.unstructure(page)
    assert type(wire["data"][0]["status"]) is str
    assert _serde.structure_page(json.loads(json.dumps(wire)), DeploymentRun) == page
