"""Public serialization: ``to_dict`` / ``to_json`` / ``from_dict`` round-trip every model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qoder_async
from qoder_async import from_dict, to_dict, to_json
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
    RunExtras,
    RunStatus,
    Schedule,
    SystemMessage,
    TextBlock,
    TriggerContext,
    TriggerType,
    UnknownEvent,
    UnknownResource,
    UserMessage,
)

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_FIXTURES = Path(__file__).parents[2] / "shared" / "api" / "fixtures"
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


def fixture_dirs() -> list[Path]:
    return [d for d in (FIXTURES, SHARED_FIXTURES) if d.is_dir()]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_fixture_round_trips(name: str) -> None:
    for directory in fixture_dirs():
        body = json.loads((directory / name).read_text(encoding="utf-8"))
        model = from_dict(MODELS[name], body)
        assert from_dict(MODELS[name], to_dict(model)) == model
        assert from_dict(MODELS[name], json.loads(to_json(model))) == model
        # The wire shape comes back: the same keys, values equal after decoding.
        assert set(to_dict(model)) >= {k for k, v in body.items() if v is not None}


def test_to_dict_is_wire_shaped() -> None:
    body = json.loads((FIXTURES / "deployment_archived.json").read_text(encoding="utf-8"))
    out = to_dict(from_dict(Deployment, body))
    assert out["archived_at"] == body["archived_at"]
    assert out["status"] == body["status"]
    assert type(out["status"]) is str
    assert out["initial_events"] == body["initial_events"]
    assert out["metadata"] == body["metadata"]
    assert json.loads(to_json(from_dict(Deployment, body))) == out
    assert qoder_async.to_dict is to_dict


def test_from_dict_strict_and_lenient() -> None:
    body = json.loads((FIXTURES / "deployment.json").read_text(encoding="utf-8"))
    body["status"] = "draining"
    with pytest.raises(ValueError, match=r"deployment\.status: unknown value"):
        from_dict(Deployment, body)
    assert from_dict(Deployment, body, strict=False).status == "draining"


# --- generated models ------------------------------------------------------------------

ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
texts = st.text(max_size=12)
json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
)


def extras(known: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Unknown keys for ``known``: never one of its field names."""
    names = {f.name for f in attrs.fields(known)}
    keys = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).filter(
        lambda k: k not in names
    )
    return st.dictionaries(keys, json_values, max_size=2)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


objects = st.dictionaries(texts, json_values, max_size=3)
agents = st.builds(AgentRef, id=ids, version=st.integers(1, 10**6), extra=extras(AgentRef))
blocks = st.builds(TextBlock, text=texts, extra=extras(TextBlock)) | st.fixed_dictionaries(
    {"type": st.sampled_from(["image", "document"]), "source": objects}
)
contents = texts | st.lists(blocks, max_size=3).map(tuple)
events = st.one_of(
    st.builds(UserMessage, content=contents, extra=extras(UserMessage)),
    st.builds(SystemMessage, content=contents, extra=extras(SystemMessage)),
    st.builds(
        DefineOutcome,
        description=texts,
        rubric=optional(objects),
        max_iterations=optional(st.integers(1, 100)),
        extra=extras(DefineOutcome),
    ),
    st.builds(
        lambda kind, rest: UnknownEvent(type=kind, raw={**rest, "type": kind}),
        st.sampled_from(["user.tool_result", "agent.note"]),
        objects,
    ),
)
resources = st.one_of(
    st.builds(FileResource, file_id=ids, mount_path=optional(texts), extra=extras(FileResource)),
    st.builds(
        GitHubRepositoryResource,
        url=texts,
        mount_path=optional(texts),
        checkout=optional(objects),
        extra=extras(GitHubRepositoryResource),
    ),
    st.builds(
        MemoryStoreResource,
        memory_store_id=ids,
        access=optional(st.sampled_from(["read_only", "read_write"])),
        instructions=optional(texts),
        extra=extras(MemoryStoreResource),
    ),
    st.builds(
        lambda kind, rest: UnknownResource(type=kind, raw={**rest, "type": kind}),
        st.sampled_from(["s3_bucket", "database"]),
        objects,
    ),
)
schedules = st.builds(
    Schedule,
    expression=texts,
    timezone=texts,
    upcoming_runs_at=st.lists(times, max_size=3).map(tuple),
    last_run_at=optional(times),
    extra=extras(Schedule),
)
deployments = st.builds(
    Deployment,
    id=ids,
    name=texts,
    description=optional(texts),
    agent=agents,
    environment_id=ids,
    schedule=optional(schedules),
    initial_events=st.lists(events, max_size=3).map(tuple),
    resources=st.lists(resources, max_size=3).map(tuple),
    vault_ids=st.lists(ids, max_size=2).map(tuple),
    metadata=objects,
    status=st.sampled_from(DeploymentStatus) | st.sampled_from(["draining", "frozen"]),
    paused_reason=optional(
        st.builds(PausedReason, type=texts, error=optional(objects), extra=extras(PausedReason))
    ),
    archived_at=optional(times),
    created_at=times,
    updated_at=times,
    environment_variables=optional(texts),
    budget=optional(objects),
    extra=extras(Deployment),
)
runs = st.builds(
    DeploymentRun,
    id=ids,
    deployment_id=ids,
    agent=agents,
    status=st.sampled_from(RunStatus) | st.just("cancelled"),
    error=optional(st.builds(RunError, type=texts, message=texts, extra=extras(RunError))),
    trigger_context=st.builds(
        TriggerContext,
        type=st.sampled_from(TriggerType) | st.just("webhook"),
        extra=extras(TriggerContext),
    ),
    triggered_at=times,
    created_at=times,
    session_id=optional(ids),
    completed_at=optional(times),
    duration_ms=optional(st.integers(0, 10**9)),
    cas_run_extras=optional(
        st.builds(
            RunExtras,
            attempt=st.integers(1, 10),
            turn_id=optional(ids),
            started_at=optional(times),
            extra=extras(RunExtras),
        )
    ),
    extra=extras(DeploymentRun),
)

ROUND_TRIP = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _uses_unknowns(d: Deployment) -> bool:
    return (
        (isinstance(d.status, str) and not isinstance(d.status, DeploymentStatus))
        or any(isinstance(x, UnknownResource) for x in d.resources)
        or any(isinstance(x, UnknownEvent) for x in d.initial_events)
    )


@ROUND_TRIP
@given(deployments)
def test_generated_deployments_round_trip(deployment: Deployment) -> None:
    wire = json.loads(to_json(deployment))
    # Unknown types and values are drift: kept as they are leniently, refused strictly.
    strict = not _uses_unknowns(deployment)
    assert from_dict(Deployment, wire, strict=strict) == deployment
    assert from_dict(Deployment, wire, strict=False) == deployment


@ROUND_TRIP
@given(runs)
def test_generated_runs_round_trip(run: DeploymentRun) -> None:
    wire = json.loads(to_json(run))
    assert from_dict(DeploymentRun, wire, strict=False) == run


@ROUND_TRIP
@given(st.lists(runs, max_size=3), optional(ids), st.booleans(), extras(Page))
def test_generated_pages_round_trip(
    items: list[DeploymentRun], cursor: str | None, more: bool, extra: dict[str, Any]
) -> None:
    page = Page(data=tuple(items), first_id=cursor, last_id=cursor, has_more=more, extra=extra)
    assert from_dict(Page[DeploymentRun], to_dict(page), strict=False) == page


def test_non_utc_datetimes_come_back_as_the_same_instant() -> None:
    plus8 = datetime(2026, 6, 14, 16, 0, tzinfo=UTC) + timedelta(hours=8)
    run = from_dict(DeploymentRun, to_dict_run(plus8))
    assert run.created_at == plus8


def to_dict_run(when: datetime) -> dict[str, Any]:
    body = json.loads((FIXTURES / "deployment_run.json").read_text(encoding="utf-8"))
    body["created_at"] = when.isoformat()
    return dict(body)
