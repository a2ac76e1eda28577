"""Profile one bulk run: ``python -m benchmarks.profiling --client ours --concurrency 64``.

Runs one client archiving fresh deployments on a fake server in another process under
``cProfile`` and prints where the client's time goes: the functions with the most own
time, and own time summed per package (``qoder_async/...`` per module). Run it for
``ours`` and ``raw`` and compare: what ours spends beyond raw is the SDK's cost.

cProfile inflates small functions, so read it for *where*, and the benchmark for *how
much*. A second, unprofiled run counts the garbage collections per 1,000 calls: objects
that live across an ``await`` (coroutines, requests, responses of the calls in flight)
are what the young-generation collections walk, so fewer objects per call shows here.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
from collections.abc import Sequence
from typing import Any

from benchmarks._clients import CLIENTS
from benchmarks._server import fake_server

__all__ = ["collections_run", "main", "profile_run"]


def _place(filename: str, function: str) -> str:
    """Group a profiled function by package (per module inside qoder_async)."""
    if "qoder_async/" in filename:
        return "qoder_async/" + filename.split("qoder_async/", 1)[1]
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename == "~":
        return f"builtin {function}"
    return "stdlib " + filename.rsplit("/", 1)[-1]


async def _archive(client: str, url: str, token: str, ids: Sequence[str], c: int) -> int:
    return await CLIENTS[client](url, token, ids, c)


def profile_run(client: str, concurrency: int, calls: int) -> pstats.Stats:
    """Profile ``client`` archiving ``calls`` deployments at ``concurrency``."""
    with fake_server(calls) as server:
        profiler = cProfile.Profile()
        profiler.enable()
        archived = asyncio.run(_archive(client, server.url, server.token, server.ids, concurrency))
        profiler.disable()
    if archived != calls:
        raise RuntimeError(f"{client} archived {archived} of {calls}")
    return pstats.Stats(profiler)


def collections_run(client: str, concurrency: int, calls: int) -> list[int]:
    """Garbage collections per generation while ``client`` archives ``calls`` deployments."""
    counts = [0, 0, 0]

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            counts[info["generation"]] += 1

    with fake_server(calls) as server:
        gc.collect()
        gc.callbacks.append(count)
        try:
            archived = asyncio.run(
                _archive(client, server.url, server.token, server.ids, concurrency)
            )
        finally:
            gc.callbacks.remove(count)
    if archived != calls:
        raise RuntimeError(f"{client} archived {archived} of {calls}")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Print the top functions and the per-package totals, in µs per call."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="ours")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    stats = profile_run(args.client, args.concurrency, args.calls)
    per_call = 1e6 / args.calls
    rows: list[tuple[float, int, str]] = []
    places: dict[str, float] = {}
    # pstats keeps its table in an untyped attribute: (file, line, name) -> timings.
    table: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    table = stats.stats  # type: ignore[attr-defined]
    for (filename, line, function), (_, ncalls, own, _, _) in table.items():
        short = "/".join(filename.split("/")[-2:])
        rows.append((own, ncalls, f"{short}:{line}({function})"))
        place = _place(filename, function)
        places[place] = places.get(place, 0.0) + own
    total = sum(places.values())
    print(
        f"{args.client}, c={args.concurrency}: {total * per_call:.0f} µs of profiled time per call"
    )
    print(f"\ntop {args.top} functions by own time (µs per call, calls):")
    for own, ncalls, name in sorted(rows, reverse=True)[: args.top]:
        print(f"{own * per_call:8.1f}  {ncalls:8d}  {name}")
    print("\nown time per package / module (µs per call):")
    for place, own in sorted(places.items(), key=lambda item: -item[1])[: args.top]:
        print(f"{own * per_call:8.1f}  {place}")
    young, middle, full = collections_run(args.client, args.concurrency, args.calls)
    per_thousand = 1000 / args.calls
    print(
        "\ngarbage collections per 1,000 calls (unprofiled run): "
        f"gen0 {young * per_thousand:.1f}, gen1 {middle * per_thousand:.1f}, "
        f"gen2 {full * per_thousand:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
