"""Running the fake server standalone, and the pytest plugin fixture."""

from __future__ import annotations

import asyncio
import io
import signal
import sys
from typing import Any

import aiohttp
import pytest

from qoder_async.testing import FakeQoderServer, serve_forever
from qoder_async.testing.__main__ import build_parser


class AnnouncedOutput(io.StringIO):
    """A text stream that signals when it is flushed (serve_forever flushes its banner)."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed = asyncio.Event()

    def flush(self) -> None:
        super().flush()
        self.flushed.set()


@pytest.fixture
def qoder_fake_server_options() -> dict[str, Any]:
    """Overrides the plugin's options fixture for this module."""
    return {"tokens": ["pt-plugin"]}


async def test_plugin_fixture_yields_a_started_server(qoder_fake_server: FakeQoderServer) -> None:
    assert qoder_fake_server.token == "pt-plugin"
    headers = {"Authorization": "Bearer pt-plugin"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(qoder_fake_server.url + "/deployments") as response,
    ):
        assert response.status == 200
    assert qoder_fake_server.request_counts["deployments.list"] == 1


async def test_serve_forever_prints_url_and_token_and_stops_on_cancel() -> None:
    out = AnnouncedOutput()
    task = asyncio.create_task(serve_forever(port=0, seed_deployments=3, out=out))
    await asyncio.wait_for(out.flushed.wait(), timeout=10)
    lines = out.getvalue().splitlines()
    url = lines[0].rsplit(" ", 1)[-1]
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/api/v1/cloud")
    assert lines[1] == "Token: pt-fake-token"

    headers = {"Authorization": "Bearer pt-fake-token"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(url + "/deployments") as response,
    ):
        assert len((await response.json())["data"]) == 3

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(url + "/deployments")


async def test_module_entry_point_serves_until_interrupted() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "qoder_async.testing",
        "--port",
        "0",
        "--seed",
        "1",
        "--fault-rate",
        "1",
        "--fault-kinds",
        "server_error",
        "--token",
        "pt-cli",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        url = first.decode().split()[-1]
        token_line = (await process.stdout.readline()).decode().strip()
        assert token_line == "Token: pt-cli"
        headers = {"Authorization": "Bearer pt-cli"}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(url + "/deployments") as response,
        ):
            assert response.status == 500  # every request faulted
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0, stderr.decode()


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--port", "--seed", "--fault-rate", "--fault-kinds", "--latency", "--token"):
        assert option in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--fault-kinds", "meltdown"],
        ["--fault-endpoints", "deployments.delete"],
        ["--port", "eighty"],
    ],
)
def test_bad_arguments_exit_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_fault_rate_out_of_range_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    from qoder_async.testing.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--fault-rate", "2"])
    assert exit_info.value.code == 2
    assert "rate" in capsys.readouterr().err
