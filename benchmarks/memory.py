"""Memory while iterating a long list: peak RSS over baseline stays a few pages.

``async for d in client.deployments.list(limit=1000)`` over 100,000 deployments on a
fake server in another process. Each measurement runs in a fresh subprocess (``python
-m benchmarks.memory --child ...``) so nothing from other benchmarks inflates it: the
child makes one small call first (imports, session, first-call caches), collects
garbage, reads its resident set size, resets the kernel's peak-RSS mark, walks the
list, and reports the new peak. Walking 10x fewer items with the same page size gives
the comparison: a paginator that keeps what it read would grow 10x.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._results import Section, Settings, Table, Target, fmt, median
from benchmarks._server import fake_server

__all__ = ["main", "run"]

_ROOT = Path(__file__).resolve().parent.parent
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
CHILD_TIMEOUT = 300.0
MiB = 1024 * 1024


def _status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status in KiB (Linux), else None."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the peak-RSS mark (Linux >= 4.0), so the peak covers only the walk."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


async def _walk(url: str, token: str, limit: int, items: int) -> dict[str, Any]:
    from qoder_async import QoderClient

    async with QoderClient(token, base_url=url) as client:
        await client.deployments.list(limit=1).first_page()
        gc.collect()
        baseline = _status_kib("VmRSS")
        exact = _reset_peak() and baseline is not None
        if not exact:  # no /proc: fall back to the lifetime peak, an upper bound
            baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        seen = 0
        started = time.perf_counter()
        walk = aiter(client.deployments.list(limit=limit))
        try:
            async for deployment in walk:
                seen += 1 if deployment.id else 0
                if seen >= items:
                    break
        finally:
            # Stopping early leaves the paginator's generator suspended: close it here,
            # inside the measured block, as a well-behaved caller would.
            aclose = getattr(walk, "aclose", None)
            if aclose is not None:
                await aclose()
        elapsed = time.perf_counter() - started
        peak = _status_kib("VmHWM") if exact else None
        if peak is None:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert baseline is not None
    return {
        "items": seen,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "over_kib": max(0, peak - baseline),
        "elapsed_s": elapsed,
        "exact": exact,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: walk the list once and print the measurement as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--limit", type=int, required=True)
    parser.add_argument("--items", type=int, required=True)
    args = parser.parse_args(argv)
    result = asyncio.run(_walk(args.url, args.token, args.limit, args.items))
    print(json.dumps(result))
    return 0


def _measure_in_child(url: str, token: str, limit: int, items: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.memory", "--child", "--url", url]
    command += ["--token", token, "--limit", str(limit), "--items", str(items)]
    done = subprocess.run(
        command, cwd=_ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(settings: Settings) -> Section:
    """Walk a short and a 10x longer list, each in fresh subprocesses, and compare."""
    total = settings.scale(100_000, 2_000)
    limit = settings.scale(1000, 100)
    sizes = (total // 10, total)
    results: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
    with fake_server(total, want_ids=False) as server:
        for _ in range(settings.repeats):
            for size in sizes:
                results[size].append(_measure_in_child(server.url, server.token, limit, size))
    page_bytes = _page_bytes(limit)
    table = Table(
        title=f"Iterating list(limit={limit}) in a fresh process (medians)",
        columns=["items", "pages", "peak RSS over baseline", "≈ page bodies", "items/s"],
    )
    over: dict[int, float] = {}
    for size in sizes:
        runs = results[size]
        over[size] = median(r["over_kib"] for r in runs) * 1024
        rate = median(r["items"] / r["elapsed_s"] for r in runs)
        table.rows.append(
            [
                f"{size:,}",
                f"{-(-size // limit):,}",
                f"{over[size] / MiB:,.1f} MiB",
                fmt(over[size] / page_bytes, 1),
                fmt(rate, 0),
            ]
        )
    short, long = sizes
    # Bounded means the 10x longer walk costs about the same: allow 50 % plus 4 MiB of
    # allocator noise, far below the 10x a walk that kept its items would show.
    allowed = 1.5 * over[short] + 4 * MiB
    growth = over[long] / allowed if allowed else 0.0
    section = Section(name="memory", title="Memory while iterating a long list")
    section.tables.append(table)
    section.targets.append(
        Target.at_most(f"memory: peak({long:,}) / (1.5 x peak({short:,}) + 4 MiB)", growth, 1.0)
    )
    exact = all(r["exact"] for runs in results.values() for r in runs)
    section.notes.append(
        f"One page body is {page_bytes / MiB:.2f} MiB of JSON; "
        + (
            "peak = kernel VmHWM reset before the walk."
            if exact
            else "peak = lifetime ru_maxrss (no /proc): an upper bound."
        )
    )
    section.data = {
        "limit": limit,
        "page_body_bytes": page_bytes,
        "runs": {str(size): runs for size, runs in results.items()},
        "over_bytes": {str(size): value for size, value in over.items()},
    }
    return section


def _page_bytes(limit: int) -> int:
    from benchmarks._bodies import make_bodies

    return len(make_bodies(limit).page)


if __name__ == "__main__":
    raise SystemExit(main())
