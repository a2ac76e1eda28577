"""Logging (QODER_LOG, one line per attempt, headers by allow-list) and the metrics hook."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from qoder_async import NotFoundError, QoderClient, RetryPolicy
from qoder_async._messages import Request, Response
from qoder_async.observability import (
    AttemptRecord,
    AttemptStats,
    configure_logging_from_env,
    loggable_headers,
    metrics_middleware,
    route_of,
)
from qoder_async.transport import MockTransport

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://api.example/api/v1/cloud"
DEP = "dep_019ec556114c78f8b60ee34fcb98bf59"
FIXTURE = (Path(__file__).parent / "fixtures" / "deployment.json").read_bytes()


async def no_sleep(seconds: float) -> None:
    return None


def scripted(*statuses: int) -> MockTransport:
    """Answers with ``statuses`` in turn (then 200), a request id on each."""
    queue = list(statuses)

    def handler(request: Request) -> Response:
        status = queue.pop(0) if queue else 200
        body = FIXTURE if status == 200 else b'{"type":"error","error":{"type":"x","message":"m"}}'
        headers = {
            "x-request-id": f"req_{len(queue)}",
            "Content-Type": "application/json",
            "X-RateLimit-Remaining": "7",
            "Set-Cookie": "session=abc",
        }
        return Response(status=status, headers=headers, content=body, request=request)

    return MockTransport(handler)


# -- QODER_LOG -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "level"),
    [("debug", logging.DEBUG), ("INFO", logging.INFO), (" warning ", logging.WARNING)],
)
def test_qoder_log_adds_one_stream_handler_to_the_sdk_logger_only(
    sdk_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch, value: str, level: int
) -> None:
    root_handlers = logging.getLogger().handlers[:]
    root_level = logging.getLogger().level
    monkeypatch.setenv("QODER_LOG", value)
    QoderClient("pt-x", base_url=BASE, transport=scripted())
    QoderClient("pt-x", base_url=BASE, transport=scripted())  # a second client adds nothing
    assert len(sdk_logger.handlers) == 1
    assert type(sdk_logger.handlers[0]) is logging.StreamHandler
    assert sdk_logger.level == level
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger().level == root_level


def test_qoder_log_leaves_a_configured_logger_alone(sdk_logger: logging.Logger) -> None:
    mine = logging.NullHandler()
    sdk_logger.addHandler(mine)
    sdk_logger.setLevel(logging.ERROR)
    assert configure_logging_from_env({"QODER_LOG": "debug"}) is None
    assert sdk_logger.handlers == [mine]
    assert sdk_logger.level == logging.ERROR


def test_qoder_log_unset_or_invalid_does_nothing(sdk_logger: logging.Logger) -> None:
    assert configure_logging_from_env({}) is None
    assert configure_logging_from_env({"QODER_LOG": ""}) is None
    with pytest.warns(RuntimeWarning, match="QODER_LOG='verbose' is ignored"):
        assert configure_logging_from_env({"QODER_LOG": "verbose"}) is None
    assert sdk_logger.handlers == []


# -- one line per attempt, headers by allow-list -------------------------------------------------


def test_loggable_headers_shows_only_the_allow_list() -> None:
    shown = loggable_headers(
        {
            "Authorization": "Bearer pt-x",
            "Cookie": "a=b",
            "X-Api-Key": "k",
            "X-Custom": "c",
            "Content-Type": "application/json",
            "User-Agent": "qoder-async",
            "Idempotency-Key": "key-1",
            "X-Request-Id": "req_1",
            "request-id": "req_2",
            "Retry-After": "3",
            "retry-after-ms": "300",
            "X-RateLimit-Reset": "10",
        }
    )
    redacted = {name for name, value in shown.items() if value == "[redacted]"}
    assert redacted == {"Authorization", "Cookie", "X-Api-Key", "X-Custom"}
    assert shown["X-RateLimit-Reset"] == "10"
    assert shown["Idempotency-Key"] == "key-1"


async def test_one_debug_line_per_attempt_and_an_info_line_per_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="qoder_async")
    transport = scripted(503)
    async with QoderClient("pt-x", base_url=BASE, transport=transport, sleep=no_sleep) as client:
        await client.deployments.archive(DEP, idempotency_key="key-42")
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "qoder_async"]
    assert [level for level, _ in lines] == ["DEBUG", "INFO", "DEBUG"]
    first, retry, second = (message for _, message in lines)
    path = f"/api/v1/cloud/deployments/{DEP}/archive"
    assert first.startswith(f"POST {path} status=503 attempt=1 elapsed_ms=")
    assert "request_id=req_0 idempotency_key=key-42" in first
    assert retry.startswith(f"retrying POST {path} in ")
    assert second.startswith(f"POST {path} status=200 attempt=2 ")
    assert "request_id=req_0" in second
    # The headers as sent, credentials masked, and the response's through the allow-list.
    assert "'Authorization': '[redacted]'" in second
    assert "'Idempotency-Key': 'key-42'" in second
    assert "'X-RateLimit-Remaining': '7'" in second
    assert "'Set-Cookie': '[redacted]'" in second
    extra = caplog.records[-1].__dict__  # the structured fields ride on the record
    assert (extra["qoder_method"], extra["qoder_status"], extra["qoder_attempt"]) == (
        "POST",
        200,
        2,
    )


async def test_nothing_is_formatted_per_request_when_debug_is_off(
    monkeypatch: pytest.MonkeyPatch, sdk_logger: logging.Logger
) -> None:
    sdk_logger.setLevel(logging.INFO)

    def must_not_run(headers: object) -> dict[str, str]:
        raise AssertionError("headers were formatted with DEBUG off")

    monkeypatch.setattr("qoder_async.retry.loggable_headers", must_not_run)
    async with QoderClient("pt-x", base_url=BASE, transport=scripted()) as client:
        await client.deployments.get(DEP)


# -- the metrics hook ---------------------------------------------------------------------


def test_route_of_replaces_ids_with_placeholders() -> None:
    assert route_of(f"{BASE}/deployments/{DEP}/runs/drun_abc1") == (
        "/api/v1/cloud/deployments/{deployment_id}/runs/{run_id}"
    )
    assert route_of(f"{BASE}/deployment_runs?limit=5") == "/api/v1/cloud/deployment_runs"
    assert route_of("https://host") == "/"


async def test_metrics_middleware_records_every_attempt() -> None:
    records: list[AttemptRecord] = []
    stats = AttemptStats()

    def sink(record: AttemptRecord) -> None:
        records.append(record)
        stats(record)

    async with QoderClient(
        "pt-x",
        base_url=BASE,
        transport=scripted(503, 429, 200, 404),
        sleep=no_sleep,
        per_attempt_middleware=[metrics_middleware(sink)],
    ) as client:
        await client.deployments.get(DEP)
        with pytest.raises(NotFoundError):
            await client.deployments.get(DEP)
    route = "/api/v1/cloud/deployments/{deployment_id}"
    assert [(r.method, r.route, r.status, r.error) for r in records] == [
        ("GET", route, 503, "InternalServerError"),
        ("GET", route, 429, "RateLimitError"),
        ("GET", route, 200, None),
        ("GET", route, 404, "NotFoundError"),
    ]
    assert [r.request_id for r in records] == ["req_3", "req_2", "req_1", "req_0"]
    assert all(r.elapsed >= 0 for r in records)
    assert stats.attempts == 4
    assert [(row["outcome"], row["count"]) for row in stats.rows()] == [
        ("200", 1),
        ("404", 1),
        ("429", 1),
        ("503", 1),
    ]


async def test_a_failing_sink_is_logged_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(record: AttemptRecord) -> None:
        raise RuntimeError("metrics backend down")

    async with QoderClient(
        "pt-x",
        base_url=BASE,
        transport=scripted(),
        per_attempt_middleware=[metrics_middleware(broken)],
    ) as client:
        deployment = await client.deployments.get(DEP)
    assert deployment.id == DEP
    assert "metrics sink" in caplog.text


async def test_a_cancelled_attempt_is_recorded_and_still_cancels() -> None:
    records: list[AttemptRecord] = []
    attempt_started = asyncio.Event()

    async def slow(request: Request) -> Response:
        attempt_started.set()
        await asyncio.sleep(10)  # cancelled long before this ends
        raise AssertionError("not reached")

    async with QoderClient(
        "pt-x",
        base_url=BASE,
        transport=MockTransport(slow),
        per_attempt_middleware=[metrics_middleware(records.append)],
        retry=RetryPolicy(max_attempts=1),
    ) as client:
        task = asyncio.create_task(client.deployments.get(DEP))
        await asyncio.wait_for(attempt_started.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [(r.status, r.error, r.outcome) for r in records] == [
        (None, "CancelledError", "CancelledError")
    ]


# -- the OpenTelemetry example ------------------------------------------------------------


@pytest.mark.parametrize("args", [["--no-otel"], []], ids=["fallback", "default"])
def test_the_tracing_example_runs_against_the_fake_server(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "otel_tracing.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    if "OpenTelemetry." in out.splitlines()[0]:
        assert out.count("span ") == 7
    else:
        assert "metrics_middleware" in out
        assert "7 attempts in all" in out
        for outcome in ("200", "404", "429", "503", "APIConnectionError"):
            assert outcome in out
