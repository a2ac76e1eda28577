"""A throttling fake server in its own process, with its counters readable from outside.

``throttled_server(...)`` starts ``python -m benchmarks._throttled`` on 127.0.0.1 with a
``Throttle`` in front of the fake API and ``deployments`` seeded, waits for its JSON
banner (URL, token, ids), and ``ServerHandle.stats()`` asks it for its counters (a line
on its stdin, a JSON line back): requests accepted and throttled, the longest gap
between two accepted requests, accepted per 100 ms, and how often each id was archived.
The child stops when its stdin closes or after ``--max-seconds``.
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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["ServerHandle", "throttled_server"]

_ROOT = Path(__file__).resolve().parent.parent
STATS_TIMEOUT = 30.0


@attrs.define
class ServerHandle:
    """A running throttled server: where it listens, its ids, and a way to read it."""

    url: str
    token: str
    ids: list[str]
    process: subprocess.Popen[bytes]

    def stats(self) -> dict[str, Any]:
        """The server's counters right now."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b"stats\n")
        self.process.stdin.flush()
        return _read_line(self.process, STATS_TIMEOUT)


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError(f"the throttled server did not answer within {timeout:.0f}s")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the throttled server exited (code {process.wait()})")
    result: dict[str, Any] = json.loads(line)
    return result


@contextlib.contextmanager
def throttled_server(
    deployments: int,
    *,
    rate: float,
    burst: float,
    retry_after: bool,
    headers: bool,
    latency_ms: float = 0.0,
    schedule: Sequence[tuple[float, float]] = (),
    max_seconds: float = 600.0,
) -> Iterator[ServerHandle]:
    """Run a throttling fake server seeded with ``deployments`` for the ``with`` block."""
    command = [sys.executable, "-m", "benchmarks._throttled", "--deployments", str(deployments)]
    command += ["--rate", str(rate), "--burst", str(burst), "--latency-ms", str(latency_ms)]
    command += ["--max-seconds", str(max_seconds)]
    command += ["--schedule", ",".join(f"{at}:{r}" for at, r in schedule)]
    if retry_after:
        command.append("--retry-after")
    if headers:
        command.append("--headers")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        command, cwd=_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        banner = _read_line(process, 120.0)
        yield ServerHandle(banner["url"], banner["token"], banner["ids"], process)
    finally:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5.0)
        if process.stdout is not None:
            process.stdout.close()


# -- the child --------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    from qoder_async.testing import FakeQoderServer
    from qoder_async.testing.throttle import Throttle, parse_schedule

    throttle = Throttle(
        rate=args.rate,
        burst=args.burst,
        retry_after=args.retry_after,
        headers=args.headers,
        schedule=parse_schedule(args.schedule),
    )
    server = FakeQoderServer(latency=args.latency_ms / 1000.0, seed=11, throttle=throttle)
    ids = server.seed_deployments(args.deployments)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with server:
        print(json.dumps({"url": server.url, "token": server.token, "ids": ids}), flush=True)
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=args.max_seconds)
            except TimeoutError:
                return
            if not line:
                return
            applied = server.archive_applications
            stats = throttle.stats()
            stats["archived_once"] = sum(1 for i in ids if applied.get(i) == 1)
            stats["archived_twice"] = sum(1 for i in ids if applied.get(i, 0) > 1)
            print(json.dumps(stats), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks._throttled``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._throttled")
    parser.add_argument("--deployments", type=int, default=0)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--burst", type=float, required=True)
    parser.add_argument("--retry-after", action="store_true")
    parser.add_argument("--headers", action="store_true")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--schedule", default="")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
