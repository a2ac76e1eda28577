"""Argument checks that run before a request is sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qoder_async import _serde, _validation
from qoder_async._validation import build_create_body, build_update_body
from qoder_async.models import (
    AgentRef,
    DefineOutcome,
    FileResource,
    GitHubRepositoryResource,
    MemoryStoreResource,
    ScheduleSpec,
    SystemMessage,
    TextBlock,
    UnknownEvent,
    UnknownResource,
    UserMessage,
)

FIXTURES = Path(__file__).parent / "fixtures"
HEX = "019ec556114c78f8b60ee34fcb98bf59"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def create(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "name": "daily-report",
        "agent": "agent_xxx",
        "environment_id": "env_xxx",
        "initial_events": [UserMessage(content="Generate today's status report")],
    }
    args.update(overrides)
    return build_create_body(**args)


# --- ids -----------------------------------------------------------------------------

ID_CHECKS: list[tuple[Callable[..., str], str, str]] = [
    (_validation.deployment_id, "dep_", "deployment_id"),
    (_validation.run_id, "drun_", "run_id"),
    (_validation.agent_id, "agent_", "agent_id"),
    (_validation.environment_id, "env_", "environment_id"),
]


@pytest.mark.parametrize(("check", "prefix", "param"), ID_CHECKS)
@pytest.mark.parametrize("suffix", [HEX, "xxx", "a", "0", "z" * 64])
def test_ids_accepted(check: Callable[..., str], prefix: str, param: str, suffix: str) -> None:
    value = prefix + suffix
    result = check(value)
    assert result == value
    assert type(result) is str


BAD_SUFFIXES = [
    "",
    "a" * 65,
    "ABC",
    "abc/def",
    "..",
    "abc/../x",
    "abc?x=1",
    "abc#frag",
    "abc%2F",
    "abc def",
    "abc\n",
    "abc\t",
    "abc-def",
    "abc_def",
    "аbc",  # Cyrillic a
    "ａbc",  # full-width a
    "abc\u200b",  # zero-width space
    "١٢٣",  # Arabic-Indic digits
]


@pytest.mark.parametrize(("check", "prefix", "param"), ID_CHECKS)
@pytest.mark.parametrize("suffix", BAD_SUFFIXES)
def test_ids_rejected(check: Callable[..., str], prefix: str, param: str, suffix: str) -> None:
    with pytest.raises(ValueError, match=f"^{param} must be {prefix!r} followed by"):
        check(prefix + suffix)


@pytest.mark.parametrize(("check", "prefix", "param"), ID_CHECKS)
def test_ids_with_the_wrong_prefix_or_padding_are_rejected(
    check: Callable[..., str], prefix: str, param: str
) -> None:
    for value in ("", prefix, "x" + prefix + HEX, " " + prefix + HEX, prefix.upper() + HEX):
        with pytest.raises(ValueError, match=f"^{param} "):
            check(value)
    other = "drun_" if prefix == "dep_" else "dep_"
    with pytest.raises(ValueError, match=f"^{param} "):
        check(other + HEX)


@pytest.mark.parametrize(("check", "prefix", "param"), ID_CHECKS)
@pytest.mark.parametrize("value", [None, 5, b"dep_abc", ["dep_abc"]])
def test_ids_of_the_wrong_type(
    check: Callable[..., str], prefix: str, param: str, value: object
) -> None:
    with pytest.raises(TypeError, match=f"^{param} must be a str, not "):
        check(value)


def test_id_check_reports_the_name_it_is_given() -> None:
    with pytest.raises(ValueError, match=r"^after_id "):
        _validation.run_id("nope", name="after_id")


def test_id_subclass_comes_back_as_a_plain_str() -> None:
    class Sneaky(str):
        def __format__(self, spec: str) -> str:
            return "../other"

    value = _validation.deployment_id(Sneaky("dep_abc"))
    assert type(value) is str
    assert f"{value}" == "dep_abc"


# --- scalars -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 20, 1000])
def test_page_limit_accepted(value: int) -> None:
    assert _validation.page_limit(value) == value


@pytest.mark.parametrize("value", [0, -1, 1001, 10**9])
def test_page_limit_out_of_range(value: int) -> None:
    with pytest.raises(ValueError, match=r"^limit must be between 1 and 1000"):
        _validation.page_limit(value)


@pytest.mark.parametrize("value", [True, False, 1.0, "10", None])
def test_page_limit_wrong_type(value: object) -> None:
    with pytest.raises(TypeError, match=r"^limit must be an int"):
        _validation.page_limit(value)


def test_boolean() -> None:
    assert _validation.boolean("include_archived", True) is True
    assert _validation.boolean("include_archived", False) is False
    for value in ("true", "false", 1, 0, None):
        with pytest.raises(TypeError, match=r"^include_archived must be a bool"):
            _validation.boolean("include_archived", value)


# --- create / update bodies ----------------------------------------------------------


def test_create_body_matches_the_recorded_cron_request() -> None:
    body = create(
        schedule=ScheduleSpec(expression="0 9 * * *", timezone="Asia/Shanghai"),
        resources=[],
        vault_ids=[],
    )
    assert body == load("create_request_cron.json")
    json.dumps(body)  # JSON-ready


def test_create_body_matches_the_manual_request_with_plain_dicts() -> None:
    body = create(
        initial_events=[{"type": "user.message", "content": "Generate today's status report"}],
        resources=[],
        vault_ids=[],
    )
    assert body == load("create_request_manual.synthesized.json")
    assert "schedule" not in body


def test_create_body_leaves_out_what_was_not_given() -> None:
    assert set(create()) == {"name", "agent", "environment_id", "initial_events"}


def test_update_body_matches_the_recorded_request() -> None:
    body = build_update_body(
        name="api-doc-verification-deployment-v2",
        schedule={"type": "cron", "expression": "30 9 * * 1-5", "timezone": "Asia/Shanghai"},
    )
    assert body == load("update_request.json")


def test_update_needs_a_field() -> None:
    with pytest.raises(ValueError, match=r"at least one field"):
        build_update_body()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", "n", "n"),
        ("description", "", ""),
        ("agent", "agent_1", "agent_1"),
        ("environment_id", "env_1", "env_1"),
        ("vault_ids", [], []),
        ("metadata", {"team": None}, {"team": None}),
        ("environment_variables", "A=1", "A=1"),
        ("budget", {"type": "monthly"}, {"type": "monthly"}),
        ("resources", [FileResource(file_id="file_1")], [{"type": "file", "file_id": "file_1"}]),
    ],
)
def test_update_with_a_single_field(field: str, value: Any, expected: Any) -> None:
    assert build_update_body(**{field: value}) == {field: expected}


def test_update_runs_the_same_checks() -> None:
    with pytest.raises(ValueError, match=r"^name must not be empty"):
        build_update_body(name="")
    with pytest.raises(ValueError, match=r"^initial_events must hold 1 to 50"):
        build_update_body(initial_events=[])
    with pytest.raises(ValueError, match=r"^environment_id "):
        build_update_body(environment_id="env-1")


# name


def test_name_limits() -> None:
    assert create(name="x" * 256)["name"] == "x" * 256
    with pytest.raises(ValueError, match=r"^name must be at most 256 characters, got 257"):
        create(name="x" * 257)
    for empty in ("", "   "):
        with pytest.raises(ValueError, match=r"^name must not be empty"):
            create(name=empty)
    with pytest.raises(TypeError, match=r"^name must be a str"):
        create(name=None)


def test_description_type() -> None:
    assert create(description="about")["description"] == "about"
    with pytest.raises(TypeError, match=r"^description must be a str"):
        create(description=5)


# agent


def test_agent_forms() -> None:
    pinned = {"id": "agent_xxx", "type": "agent", "version": 3}
    assert create(agent="agent_xxx")["agent"] == "agent_xxx"
    assert create(agent=AgentRef(id="agent_xxx", version=3))["agent"] == pinned
    assert create(agent=pinned)["agent"] == pinned
    assert create(agent={"id": "agent_xxx", "version": 3})["agent"] == pinned


@pytest.mark.parametrize(
    ("agent", "error", "message"),
    [
        ("agent-1", ValueError, "^agent must be 'agent_' followed by"),
        ("env_1", ValueError, "^agent must be 'agent_'"),
        ({"id": "agent_1"}, ValueError, "^agent must have 'id' and 'version'"),
        ({"id": "agent_1", "version": 1, "pin": 1}, ValueError, "^agent has unknown keys"),
        ({"id": "agent_1", "type": "model", "version": 1}, ValueError, "^agent.type must be"),
        ({"id": "agent_1", "version": 0}, ValueError, "^agent.version must be >= 1"),
        ({"id": "agent_1", "version": True}, TypeError, "^agent.version must be an int"),
        ({"id": "agent_1", "version": "2"}, TypeError, "^agent.version must be an int"),
        ({"id": "agent/1", "version": 1}, ValueError, "^agent.id must be"),
        (AgentRef(id="agent_1", type="team", version=1), ValueError, "^agent.type must be"),
        (42, TypeError, "^agent must be an agent id str"),
        (None, TypeError, "^agent must be an agent id str"),
    ],
)
def test_agent_rejected(agent: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        create(agent=agent)


def test_environment_id_checked() -> None:
    with pytest.raises(ValueError, match=r"^environment_id must be 'env_'"):
        create(environment_id="env_../x")
    with pytest.raises(TypeError, match=r"^environment_id must be a str"):
        create(environment_id=None)


# initial events


def test_initial_event_count() -> None:
    message = UserMessage(content="hi")
    assert len(create(initial_events=[message] * 50)["initial_events"]) == 50
    for count in (0, 51):
        with pytest.raises(
            ValueError, match=f"^initial_events must hold 1 to 50 events, got {count}"
        ):
            create(initial_events=[message] * count)


@pytest.mark.parametrize("value", ["hi", UserMessage(content="hi"), {"type": "user.message"}, None])
def test_initial_events_must_be_a_list(value: Any) -> None:
    with pytest.raises(TypeError, match=r"^initial_events must be a list"):
        create(initial_events=value)


def test_initial_events_in_every_form() -> None:
    rubric = {"type": "text", "content": "tests pass"}
    events = [
        UserMessage(content="plain"),
        UserMessage(content=(TextBlock(text="a"), {"type": "image", "file_id": "file_1"})),
        {"type": "user.message", "content": [{"type": "text", "text": "b"}]},
        SystemMessage(content="sys"),
        {"type": "system.message", "content": "sys2"},
        DefineOutcome(description="ship", rubric=rubric, max_iterations=2),
        {"type": "user.define_outcome", "description": "d"},
    ]
    assert create(initial_events=events)["initial_events"] == [
        {"type": "user.message", "content": [{"type": "text", "text": "plain"}]},
        {
            "type": "user.message",
            "content": [{"type": "text", "text": "a"}, {"type": "image", "file_id": "file_1"}],
        },
        {"type": "user.message", "content": [{"type": "text", "text": "b"}]},
        {"type": "system.message", "content": [{"type": "text", "text": "sys"}]},
        {"type": "system.message", "content": [{"type": "text", "text": "sys2"}]},
        {
            "type": "user.define_outcome",
            "description": "ship",
            "rubric": rubric,
            "max_iterations": 2,
        },
        {"type": "user.define_outcome", "description": "d"},
    ]


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        ({"type": "user.interrupt"}, ValueError, r"^initial_events\[1\]\.type must be one of"),
        ({"content": "x"}, ValueError, r"^initial_events\[1\]\.type must be one of"),
        (UnknownEvent(type="user.x", raw={}), ValueError, r"^initial_events\[1\]\.type must be"),
        ("hello", TypeError, r"^initial_events\[1\] must be an event model or a mapping"),
        ({"type": "user.message"}, TypeError, r"^initial_events\[1\]\.content must be a list"),
        ({"type": "user.message", "content": ""}, ValueError, r"\.content must not be empty"),
        ({"type": "user.message", "content": []}, ValueError, r"\.content must not be empty"),
        (UserMessage(content=""), ValueError, r"^initial_events\[1\]\.content must not be empty"),
        (
            {"type": "user.message", "content": [{"text": "x"}]},
            ValueError,
            r"^initial_events\[1\]\.content\[0\]\.type must be a non-empty str",
        ),
        (
            {"type": "user.message", "content": [{"type": "text", "text": 5}]},
            TypeError,
            r"^initial_events\[1\]\.content\[0\]\.text must be a str",
        ),
        (
            {"type": "system.message", "content": ["x"]},
            TypeError,
            r"^initial_events\[1\]\.content\[0\] must be a TextBlock or a mapping",
        ),
        (
            {"type": "user.define_outcome"},
            TypeError,
            r"^initial_events\[1\]\.description must be a str",
        ),
        (DefineOutcome(description=""), ValueError, r"\.description must not be empty"),
        (
            DefineOutcome(description="d", max_iterations=0),
            ValueError,
            r"^initial_events\[1\]\.max_iterations must be >= 1",
        ),
        (
            {"type": "user.define_outcome", "description": "d", "max_iterations": "3"},
            TypeError,
            r"\.max_iterations must be an int",
        ),
        (
            {"type": "user.define_outcome", "description": "d", "rubric": "be good"},
            TypeError,
            r"^initial_events\[1\]\.rubric must be a mapping",
        ),
    ],
)
def test_initial_event_rejected(event: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        create(initial_events=[UserMessage(content="ok"), event])


# resources


def test_resources_in_every_form() -> None:
    resources = [
        FileResource(file_id="file_1", mount_path="/mnt/a"),
        GitHubRepositoryResource(url="https://github.com/o/r", authorization_token="ghp_x"),
        MemoryStoreResource(memory_store_id="memstore_1", access="read_write"),
        UnknownResource(type="s3_bucket", raw={"type": "s3_bucket", "bucket": "b"}),
        {"type": "file", "file_id": "file_2"},
    ]
    assert create(resources=resources)["resources"] == [
        {"type": "file", "file_id": "file_1", "mount_path": "/mnt/a"},
        {
            "type": "github_repository",
            "url": "https://github.com/o/r",
            "authorization_token": "ghp_x",
        },
        {"type": "memory_store", "memory_store_id": "memstore_1", "access": "read_write"},
        {"type": "s3_bucket", "bucket": "b"},
        {"type": "file", "file_id": "file_2"},
    ]


@pytest.mark.parametrize(
    ("resource", "error", "message"),
    [
        (
            GitHubRepositoryResource(url="https://github.com/o/r"),
            ValueError,
            r"^resources\[0\]\.authorization_token is required for a github_repository resource",
        ),
        ({"type": "file"}, ValueError, r"^resources\[0\]\.file_id is required"),
        (
            {"type": "file", "file_id": ""},
            ValueError,
            r"^resources\[0\]\.file_id must not be empty",
        ),
        ({"type": "file", "file_id": 1}, TypeError, r"^resources\[0\]\.file_id must be a str"),
        (
            {"type": "memory_store", "memory_store_id": "m", "access": "admin"},
            ValueError,
            r"^resources\[0\]\.access must be 'read_only' or 'read_write'",
        ),
        (
            {"type": "file", "file_id": "f", "mount_path": 3},
            TypeError,
            r"^resources\[0\]\.mount_path must be a str",
        ),
        ({"file_id": "f"}, ValueError, r"^resources\[0\]\.type must be a non-empty str"),
        ("file_1", TypeError, r"^resources\[0\] must be a resource model or a mapping"),
    ],
)
def test_resource_rejected(resource: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        create(resources=[resource])


def test_resources_must_be_a_list() -> None:
    with pytest.raises(TypeError, match=r"^resources must be a list"):
        create(resources={"type": "file", "file_id": "f"})


# vault ids


def test_vault_ids() -> None:
    ids = [f"vault_{i}" for i in range(50)]
    assert create(vault_ids=ids)["vault_ids"] == ids
    with pytest.raises(ValueError, match=r"^vault_ids must hold at most 50 ids, got 51"):
        create(vault_ids=[*ids, "vault_x"])
    with pytest.raises(ValueError, match=r"^vault_ids\[1\] must be 'vault_' followed by"):
        create(vault_ids=["vault_1", "vlt_2"])
    with pytest.raises(TypeError, match=r"^vault_ids\[0\] must be a str"):
        create(vault_ids=[1])
    with pytest.raises(TypeError, match=r"^vault_ids must be a list"):
        create(vault_ids="vault_1")


# metadata


def test_metadata_limits() -> None:
    sixteen = {f"k{i}": "v" for i in range(16)}
    assert create(metadata=sixteen)["metadata"] == sixteen
    with_cas = sixteen | {"cas_config": {"config": {"max_retries": 2}}}
    assert create(metadata=with_cas)["metadata"] == with_cas
    with pytest.raises(ValueError, match=r"^metadata must have at most 16 keys, got 17"):
        create(metadata=sixteen | {"k16": "v"})
    assert create(metadata={"k" * 64: "v" * 512})["metadata"] == {"k" * 64: "v" * 512}
    with pytest.raises(ValueError, match=r"^metadata key 'kkk.* must be 1 to 64 characters"):
        create(metadata={"k" * 65: "v"})
    with pytest.raises(ValueError, match=r"^metadata key '' must be 1 to 64"):
        create(metadata={"": "v"})
    with pytest.raises(ValueError, match=r"^metadata\['k'\] must be at most 512 characters"):
        create(metadata={"k": "v" * 513})


@pytest.mark.parametrize(
    ("metadata", "error", "message"),
    [
        ({"k": 1}, TypeError, r"^metadata\['k'\] must be a str, not int"),
        ({"k": None}, TypeError, r"^metadata\['k'\] must be a str, not NoneType"),
        ({"k": ["a"]}, TypeError, r"^metadata\['k'\] must be a str"),
        ({1: "v"}, TypeError, "^metadata keys must be str"),
        ({"cas_config": "on"}, TypeError, r"^metadata\['cas_config'\] must be a mapping"),
        ([("k", "v")], TypeError, "^metadata must be a mapping"),
    ],
)
def test_metadata_rejected_on_create(metadata: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        create(metadata=metadata)


def test_metadata_none_deletes_on_update_only() -> None:
    body = build_update_body(metadata={"old": None, "cas_config": None, "new": "v"})
    assert body == {"metadata": {"old": None, "cas_config": None, "new": "v"}}
    with pytest.raises(TypeError, match=r"^metadata\['k'\] must be a str"):
        build_update_body(metadata={"k": 5})


# schedule


@pytest.mark.parametrize(
    "expression",
    [
        "0 9 * * *",
        "30 9 * * 1-5",
        "*/15 * * * *",
        "0 0 1,15 * *",
        "0 0 * JAN-MAR mon-fri",
        "5-10/2 0-23/6 1-31/10 */3 0,6",
        "0 0 * * 7",
        "0 0 * * sun",
        "59 23 31 12 6",
        "5/10 * * * *",
        "  0 9 * * *  ",
        "0\t9 * *  *",
    ],
)
def test_cron_accepted(expression: str) -> None:
    body = create(schedule=ScheduleSpec(expression=expression, timezone="UTC"))
    assert body["schedule"] == {"type": "cron", "expression": expression, "timezone": "UTC"}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "must have 5 fields"),
        ("* * * *", "must have 5 fields"),
        ("0 * * * * *", "must have 5 fields"),
        ("@daily", "must have 5 fields"),
        ("60 * * * *", "minute '60' has a value that is not in 0-59"),
        ("* 24 * * *", "hour '24' has a value that is not in 0-23"),
        ("* * 0 * *", "day of month '0' has a value that is not in 1-31"),
        ("* * 32 * *", "day of month '32'"),
        ("* * * 13 *", "month '13'"),
        ("* * * FOO *", "month 'FOO'"),
        ("* * * * 8", "day of week '8'"),
        ("* * * * MONDAY", "day of week 'MONDAY'"),
        ("JAN * * * *", "minute 'JAN'"),
        ("*/0 * * * *", "minute '*/0' has a step outside 1-59"),
        ("5-1 * * * *", "minute '5-1' has a range that ends before it starts"),
        ("0 9 ? * *", "day of month '?' is not *, a value or a range"),
        ("0 9 L * *", "day of month 'L'"),
        ("0 9 * * 1#2", "day of week '1#2' is not"),
        ("1,,2 * * * *", "minute '' is not"),
        ("-1 * * * *", "minute '-1' is not"),
        ("٣ * * * *", "minute '٣'"),
        ("0 9 * * *\n", "day of week '*\\n'"),
    ],
)
def test_cron_rejected(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^schedule.expression") as info:
        create(schedule=ScheduleSpec(expression=expression, timezone="UTC"))
    assert message in str(info.value)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/New_York", "Etc/GMT+5"])
def test_time_zone_accepted(zone: str) -> None:
    assert create(schedule={"type": "cron", "expression": "0 9 * * *", "timezone": zone})


@pytest.mark.parametrize(
    "zone",
    ["", "Mars/Olympus", "asia/shanghai", "../etc/passwd", "/etc/localtime", "Asia", "A\x00"],
)
def test_time_zone_rejected(zone: str) -> None:
    with pytest.raises(ValueError, match=r"^schedule.timezone must be an IANA time zone"):
        create(schedule={"type": "cron", "expression": "0 9 * * *", "timezone": zone})


@pytest.mark.parametrize(
    ("schedule", "error", "message"),
    [
        ({"expression": "0 9 * * *", "timezone": "UTC"}, ValueError, "exactly the keys"),
        ({"type": "cron", "expression": "0 9 * * *"}, ValueError, "exactly the keys"),
        (
            {"type": "cron", "expression": "0 9 * * *", "timezone": "UTC", "jitter": 1},
            ValueError,
            "exactly the keys",
        ),
        (
            {"type": "rate", "expression": "0 9 * * *", "timezone": "UTC"},
            ValueError,
            "^schedule.type must be 'cron'",
        ),
        (
            {"type": "cron", "expression": 9, "timezone": "UTC"},
            TypeError,
            "^schedule.expression must be a str",
        ),
        (
            {"type": "cron", "expression": "0 9 * * *", "timezone": None},
            TypeError,
            "^schedule.timezone must be a str",
        ),
        ("0 9 * * *", TypeError, "^schedule must be a ScheduleSpec or a mapping"),
    ],
)
def test_schedule_rejected(schedule: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        create(schedule=schedule)


def test_a_fetched_schedule_can_be_sent_back() -> None:
    deployment = _serde.structure_deployment(load("deployment_paused.json"))
    assert deployment.schedule is not None
    body = build_update_body(schedule=deployment.schedule)
    assert body == {
        "schedule": {"type": "cron", "expression": "30 9 * * 1-5", "timezone": "Asia/Shanghai"}
    }


# environment variables and budget


@pytest.mark.parametrize("value", ["A=1", "A=1;B=two", "A=1\nB=2\n", "_X=", "A=b=c;", ""])
def test_environment_variables_accepted(value: str) -> None:
    assert create(environment_variables=value)["environment_variables"] == value


@pytest.mark.parametrize("value", ["1A=x", "A", "A-B=1", "A=1;B", "=1", "Ä=1"])
def test_environment_variables_rejected(value: str) -> None:
    with pytest.raises(ValueError, match=r"^environment_variables entry .* must be KEY=VALUE"):
        create(environment_variables=value)


def test_environment_variables_and_budget_types() -> None:
    with pytest.raises(TypeError, match=r"^environment_variables must be a str"):
        create(environment_variables={"A": "1"})
    budget = {"type": "monthly", "max_list_cost": {"amount": "10", "currency": "USD"}}
    assert create(budget=budget)["budget"] == budget
    with pytest.raises(TypeError, match=r"^budget must be a mapping"):
        create(budget="10 USD")
