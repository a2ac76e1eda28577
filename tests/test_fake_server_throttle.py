"""The fake server's throttling mode: a token bucket answering 429, and its options."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import aiohttp
import pytest

from qoder_async.cli._parser import build_parser as cli_parser
from qoder_async.testing import FakeQoderServer, Throttle
from qoder_async.testing.__main__ import build_parser, main
from qoder_async.testing.throttle import throttle_from_args
from tests.cli_support import child_env
from tests.fake_server_support import Clock


def test_the_bucket_lets_a_burst_through_then_refuses_until_it_refills() -> None:
    clock = Clock(100.0)
    throttle = Throttle(rate=2, burst=3, clock=clock)
    verdicts = [throttle.admit("POST") for _ in range(4)]
    assert [passed for passed, _ in verdicts] == [True, True, True, False]
    assert verdicts[3][1] == {"Retry-After": "1"}
    assert verdicts[0][1] == {}  # no X-RateLimit-* unless asked for
    clock.now += 0.5  # one token back at 2/s
    assert throttle.admit("POST")[0] is True
    assert throttle.admit("POST")[0] is False
    assert (throttle.accepted, throttle.throttled) == (4, 2)
    assert throttle.longest_gap == pytest.approx(0.5)
    assert throttle.stats()["timeline"] == [3, 0, 0, 0, 0, 1]


def test_retry_after_can_be_left_out_and_rate_limit_headers_sent() -> None:
    clock = Clock(0.0)
    throttle = Throttle(rate=10, burst=2, retry_after=False, headers=True, clock=clock)
    passed, headers = throttle.admit("GET")
    assert passed
    assert headers == {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": "0.100",
    }
    throttle.admit("GET")
    passed, headers = throttle.admit("GET")
    assert not passed
    assert "Retry-After" not in headers
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Reset"] == "0.200"


def test_a_schedule_changes_the_rate_from_the_first_request_on() -> None:
    clock = Clock(50.0)
    throttle = Throttle(rate=10, burst=1, clock=clock, schedule=[(20.0, 100.0), (5.0, 1.0)])
    assert throttle.schedule == ((5.0, 1.0), (20.0, 100.0))
    assert throttle.admit("POST")[0]
    clock.now += 0.1  # at 10/s: a token back
    assert throttle.admit("POST")[0]
    clock.now += 5.0  # now 1/s: 0.1 s refills a tenth of a token
    throttle.admit("POST")
    clock.now += 0.1
    assert not throttle.admit("POST")[0]
    assert throttle.rate_at(4.9) == 10
    assert throttle.rate_at(5.0) == 1
    assert throttle.rate_at(25.0) == 100


def test_only_the_chosen_methods_are_throttled() -> None:
    throttle = Throttle(rate=1, burst=1, methods=["post"], clock=Clock(0.0))
    assert throttle.admit("POST")[0]
    assert not throttle.admit("POST")[0]
    assert all(throttle.admit("GET") == (True, {}) for _ in range(10))
    assert (throttle.accepted, throttle.throttled) == (1, 1)


@pytest.mark.parametrize(
    "options",
    [{"rate": 0}, {"rate": 5, "schedule": [(-1.0, 5.0)]}, {"rate": 5, "schedule": [(1.0, 0.0)]}],
)
def test_bad_throttles_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Throttle(**options)  # type: ignore[arg-type]


async def test_the_server_answers_429_in_the_api_envelope_and_applies_nothing() -> None:
    clock = Clock(0.0)
    throttle = Throttle(rate=1, burst=1, headers=True, clock=clock)
    async with FakeQoderServer(throttle=throttle) as server:
        (deployment_id,) = server.seed_deployments(1)
        headers = {"Authorization": f"Bearer {server.token}"}
        url = f"{server.url}/deployments/{deployment_id}"
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(url) as first:
                assert first.status == 200
                assert first.headers["X-RateLimit-Limit"] == "1"
            async with session.post(f"{url}/archive") as refused:
                assert refused.status == 429
                assert refused.headers["Retry-After"] == "1"
                assert refused.headers["x-request-id"]
                body = await refused.json()
        assert body["error"]["type"] == "rate_limit_error"
        assert server.archive_applications == {}
        assert server.request_counts["deployments.archive"] == 1
        assert (throttle.accepted, throttle.throttled) == (1, 1)
        clock.now += 1.0
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.post(f"{url}/archive") as done,
        ):
            assert done.status == 200
        assert server.archive_applications == {deployment_id: 1}


def test_module_command_line_builds_the_throttle() -> None:
    args = build_parser().parse_args(
        [
            "--throttle-rate", "5", "--throttle-burst", "2", "--throttle-no-retry-after",
            "--throttle-headers", "--throttle-schedule", "10:1,20:5", "--throttle-methods", "POST",
        ]
    )  # fmt: skip
    throttle = throttle_from_args(args)
    assert throttle is not None
    assert (throttle.rate, throttle.burst, throttle.retry_after, throttle.headers) == (
        5.0,
        2.0,
        False,
        True,
    )
    assert throttle.schedule == ((10.0, 1.0), (20.0, 5.0))
    assert throttle.methods == frozenset({"POST"})
    assert throttle_from_args(build_parser().parse_args([])) is None


def test_cli_fake_server_takes_the_same_throttle_options() -> None:
    args = cli_parser().parse_args(["fake-server", "--throttle-rate", "20", "--throttle-headers"])
    throttle = throttle_from_args(args)
    assert throttle is not None
    assert (throttle.rate, throttle.headers, throttle.retry_after) == (20.0, True, True)


@pytest.mark.parametrize("argv", [["--throttle-schedule", "soon"], ["--throttle-schedule", "5:-1"]])
def test_bad_throttle_options_exit_with_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "schedule" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--throttle-headers"], ["--throttle-rate", "5", "--throttle-burst", "0.5"]]
)
def test_inconsistent_throttle_options_exit_with_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "throttle" in capsys.readouterr().err


async def test_cli_fake_server_throttles_over_http() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qoder_async", "--json", "fake-server", "--port", "0",
        "--throttle-rate", "0.001", "--throttle-burst", "2", "--throttle-headers",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=child_env(None),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        headers = {"Authorization": f"Bearer {info['token']}"}
        statuses = []
        async with aiohttp.ClientSession(headers=headers) as session:
            for _ in range(3):
                async with session.get(f"{info['url']}/deployments") as response:
                    statuses.append(response.status)
                    limit = response.headers.get("X-RateLimit-Limit")
        assert statuses == [200, 200, 429]
        assert limit == "0.001"
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


def test_throttle_from_args_needs_a_rate() -> None:
    args = argparse.Namespace(
        throttle_rate=None,
        throttle_burst=None,
        throttle_no_retry_after=False,
        throttle_headers=False,
        throttle_schedule=[(1.0, 2.0)],
        throttle_methods=None,
    )
    with pytest.raises(ValueError, match="--throttle-rate"):
        throttle_from_args(args)
