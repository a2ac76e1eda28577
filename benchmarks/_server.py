"""The fake Qoder server in its own process, freshly seeded for each measurement.

The benchmarks measure the client's CPU with ``time.process_time()``, so the server
must not share the client's process (or its event loop). ``fake_server()`` starts
``python -m benchmarks._server`` on 127.0.0.1 on a free port, waits for the one JSON
line it prints (URL, token and the seeded ids), and stops it on exit. The child also
stops by itself when its stdin closes (the parent died) or after ``--max-seconds``, so a
crashed run never leaves a server behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["ServerInfo", "fake_server", "main"]

HOST = "127.0.0.1"
#: The directory holding the ``benchmarks`` package, so the child can import it.
_ROOT = Path(__file__).resolve().parent.parent


@attrs.frozen
class ServerInfo:
    """A running fake server: where it listens and what it holds.

    Attributes:
        url: API base URL (always on 127.0.0.1).
        token: A bearer token it accepts (a fake one; nothing secret).
        ids: Ids of the seeded deployments, newest last (empty unless asked for).
        pid: The server's process id (for RSS or CPU readings of the server side).
    """

    url: str
    token: str
    ids: tuple[str, ...]
    pid: int


@contextlib.contextmanager
def fake_server(
    deployments: int,
    *,
    latency_ms: float = 0.0,
    want_ids: bool = True,
    startup_timeout: float = 120.0,
    max_seconds: float = 1800.0,
) -> Iterator[ServerInfo]:
    """Run a fake server seeded with ``deployments`` deployments for the ``with`` block.

    Args:
        deployments: How many active deployments to create before serving.
        latency_ms: Milliseconds the server waits before answering each request.
        want_ids: Send the seeded ids back (skip it for 100,000-item listings).
        startup_timeout: Seconds to wait for the server to come up.
        max_seconds: The server exits by itself after this long, whatever happens.
    """
    command = [
        sys.executable,
        "-m",
        "benchmarks._server",
        "--deployments",
        str(deployments),
        "--latency-ms",
        str(latency_ms),
        "--max-seconds",
        str(max_seconds),
    ]
    if want_ids:
        command.append("--ids")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        command, cwd=_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        info = _read_banner(process, startup_timeout)
        yield info
    finally:
        _stop(process)


def _read_banner(process: subprocess.Popen[bytes], timeout: float) -> ServerInfo:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError(f"the fake server did not start within {timeout:.0f}s")
    # The child writes the whole banner in one flushed line, so readline() cannot hang
    # once the first byte is there.
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the fake server exited during startup (code {process.wait()})")
    banner: dict[str, Any] = json.loads(line)
    return ServerInfo(
        url=banner["url"], token=banner["token"], ids=tuple(banner["ids"]), pid=process.pid
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    # Closing stdin is the polite stop; terminate/kill only if the child does not listen.
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    for stop in (None, process.terminate, process.kill):
        if stop is not None:
            stop()
        try:
            process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            continue
        break
    if process.stdout is not None:
        process.stdout.close()


# -- the child --------------------------------------------------------------------------


async def _serve(deployments: int, latency_ms: float, ids: bool, max_seconds: float) -> None:
    # Imported here so the parent (which only starts processes) never loads the server.
    from qoder_async.testing import FakeQoderServer

    server = FakeQoderServer(host=HOST, port=0, latency=latency_ms / 1000.0, seed=7)
    seeded = server.seed_deployments(deployments) if deployments else []
    async with server:
        banner = {"url": server.url, "token": server.token, "ids": seeded if ids else []}
        sys.stdout.write(json.dumps(banner) + "\n")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        parent_gone = asyncio.Event()

        def wait_for_eof() -> None:
            # stdin reaches EOF when the parent closes it or dies. A daemon thread, not
            # the loop's executor, so shutting the loop down never waits on the read.
            sys.stdin.buffer.read()
            loop.call_soon_threadsafe(parent_gone.set)

        threading.Thread(target=wait_for_eof, daemon=True).start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(parent_gone.wait(), timeout=max_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks._server``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server")
    parser.add_argument("--deployments", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--ids", action="store_true", help="print the seeded ids")
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.deployments, args.latency_ms, args.ids, args.max_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
