"""Helpers for the command-line tests: run ``python -m qoder_async`` against a fake server.

The fake server runs in the test's own event loop, so the CLI is started with
``asyncio.create_subprocess_exec`` and the loop keeps serving while the test waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from qoder_async.testing import FakeQoderServer

__all__ = [
    "AGENT_B",
    "UNKNOWN",
    "Result",
    "assert_one_error_line",
    "child_env",
    "cli",
    "cli_on_terminal",
    "server_fixture",
]

AGENT_B = "agent_" + "b" * 32
UNKNOWN = "dep_" + "f" * 32


@pytest.fixture(name="server")
async def server_fixture() -> AsyncIterator[FakeQoderServer]:
    """A started ``FakeQoderServer(seed=1)`` for the CLI to talk to, closed after the test."""
    async with FakeQoderServer(seed=1) as srv:
        yield srv


@dataclass
class Result:
    """Exit code and decoded output of one CLI run."""

    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def child_env(token: str | None) -> dict[str, str]:
    """The test's environment without any QODER_* variable, plus ``QODER_PAT=token``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QODER_")}
    if token is not None:
        env["QODER_PAT"] = token
    return env


async def cli(
    server: FakeQoderServer,
    *args: str,
    stdin: bytes | None = None,
    token: str | None = "",
    wait: float = 30.0,
) -> Result:
    """Run the CLI against ``server``; ``token=""`` means the server's own token."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "qoder_async",
        "--base-url",
        server.url,
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(server.token if token == "" else token),
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), wait)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def assert_one_error_line(result: Result, expected: str) -> None:
    """stderr is exactly one line starting with ``expected``, and no traceback."""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(expected), result.err
    assert "Traceback" not in result.err


async def cli_on_terminal(
    server: FakeQoderServer,
    *args: str,
    answer: bytes | None = None,
    stdout_on_terminal: bool = False,
) -> tuple[int, str, str]:
    """Run the CLI with stdin and stderr (and stdout, if asked) on a pseudo-terminal;
    type ``answer`` at a ``[y/N]`` prompt. Returns the exit code, stdout when it is a pipe
    (else ``""``), and everything the terminal showed."""
    controller, terminal = pty.openpty()
    stdout = terminal if stdout_on_terminal else asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qoder_async", "--base-url", server.url, *args,
        stdin=terminal, stdout=stdout, stderr=terminal, env=child_env(server.token),
    )  # fmt: skip
    os.close(terminal)
    loop = asyncio.get_running_loop()
    screen = bytearray()
    answered = answer is None
    with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
        for _ in range(10_000):
            chunk = await asyncio.wait_for(
                loop.run_in_executor(None, os.read, controller, 4096), 30
            )
            if not chunk:
                break
            screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(controller, answer or b"")
                answered = True
    os.close(controller)
    out = b"" if proc.stdout is None else await proc.stdout.read()
    code = await asyncio.wait_for(proc.wait(), 30)
    return code, out.decode(), screen.decode(errors="replace").replace("\r\n", "\n")
