"""Memory while iterating a long list, and what a bulk report keeps per id.

List: peak RSS over baseline stays a few pages.

``async for d in client.deployments.list(limit=1000)`` over 100,000 deployments on a
fake server in another process. Each measurement runs in a fresh subprocess (``python
-m benchmarks.memory --child ...``) so nothing from other benchmarks inflates it: the
child makes one small call first (imports, session, first-call caches), collects
garbage, reads its resident set size, resets the kernel's peak-RSS mark, walks the
list, and reports the new peak. Walking 10x fewer items with the same page size gives
the comparison: a paginator that keeps what it read would grow 10x.

Bulk: ``bulk_archive`` of 100,000 ids that do not exist (each outcome ``not_found``,
with its error) and of 50,000 that do, each in a fresh subprocess: resident memory
once the job is done, the client closed and garbage collected, over the baseline
before it (the id strings themselves included). The same run with 10x fewer ids gives
the slope, bytes kept per id, free of the fixed costs (session, caches, allocator
arenas). The target is at most 1 KiB per id. (``tracemalloc`` would be exact but
slows aiohttp several times over.)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._results import Section, Settings, Table, Target, fmt, median
from benchmarks._server import ServerInfo, fake_server

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


BULK_CONCURRENCY = 64
BULK_TARGET_BYTES = 1024


async def _bulk(url: str, token: str, unknown: int, ids_file: str | None) -> dict[str, Any]:
    from qoder_async import QoderClient

    async with QoderClient(token, base_url=url) as client:
        await client.deployments.list(limit=1).first_page()
        gc.collect()
        baseline = _status_kib("VmRSS")
        # The ids are made inside the measurement: their strings count too.
        if ids_file is not None:
            ids = (await asyncio.to_thread(Path(ids_file).read_text)).split()
        else:
            ids = [f"dep_{0xF << 124 | n:032x}" for n in range(unknown)]
        started = time.perf_counter()
        report = await client.deployments.bulk_archive(ids, concurrency=BULK_CONCURRENCY)
        elapsed = time.perf_counter() - started
        count = len(ids)
        del ids
    gc.collect()
    after = _status_kib("VmRSS")
    if baseline is None or after is None:
        raise RuntimeError("the bulk memory row needs /proc/self/status (Linux)")
    return {
        "ids": count,
        "counts": report.as_dict()["counts"],
        "held_bytes": (after - baseline) * 1024,
        "elapsed_s": elapsed,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: walk the list (or run one bulk job); print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--items", type=int, default=0)
    parser.add_argument("--bulk-unknown", type=int, default=0)
    parser.add_argument("--bulk-ids-file")
    args = parser.parse_args(argv)
    if args.bulk_unknown or args.bulk_ids_file:
        work = _bulk(args.url, args.token, args.bulk_unknown, args.bulk_ids_file)
    else:
        work = _walk(args.url, args.token, args.limit, args.items)
    print(json.dumps(asyncio.run(work)))
    return 0


def _measure_in_child(url: str, token: str, limit: int, items: int) -> dict[str, Any]:
    return _child(url, token, "--limit", str(limit), "--items", str(items))


def _child(url: str, token: str, *extra: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.memory", "--child", "--url", url]
    command += ["--token", token, *extra]
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
    section = Section(name="memory", title="Memory: iterating a long list, bulk outcomes")
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
        "bulk": _bulk_rows(settings, section),
    }
    return section


def _bulk_rows(settings: Settings, section: Section) -> dict[str, Any]:
    """Bytes a bulk report keeps per id: unknown ids (with errors) and archived ones."""
    sizes = {
        "not_found": settings.scale(100_000, 4_000),
        "archived": settings.scale(50_000, 2_000),
    }
    table = Table(
        title=f"bulk_archive, c={BULK_CONCURRENCY}: memory kept after the job (medians)",
        columns=["outcome", "ids", "RSS kept", "ids/s", "per id (slope)"],
    )
    data: dict[str, Any] = {}
    for outcome, large in sizes.items():
        runs: dict[int, list[dict[str, Any]]] = {large // 10: [], large: []}
        # Archived runs each take fresh ids: the server remembers what was archived.
        seeded = settings.repeats * (large + large // 10) if outcome == "archived" else 0
        with fake_server(seeded, want_ids=bool(seeded)) as server:
            fresh = iter(server.ids)
            for _ in range(settings.repeats):
                for size in runs:
                    ids = [next(fresh) for _ in range(size)] if seeded else None
                    runs[size].append(_bulk_child(server, size, ids))
        kept = {size: median(r["held_bytes"] for r in results) for size, results in runs.items()}
        per_id = (kept[large] - kept[large // 10]) / (large - large // 10)
        for size, results in runs.items():
            rate = median(r["ids"] / r["elapsed_s"] for r in results)
            slope = f"{per_id:,.0f} B" if size == large else ""
            table.rows.append(
                [outcome, f"{size:,}", f"{kept[size] / MiB:,.1f} MiB", fmt(rate, 0), slope]
            )
        section.targets.append(
            Target.at_most(f"bulk: bytes kept per {outcome} id", per_id, BULK_TARGET_BYTES)
        )
        data[outcome] = {"runs": runs, "bytes_per_id": per_id}
    section.tables.append(table)
    return data


def _bulk_child(server: ServerInfo, size: int, ids: list[str] | None) -> dict[str, Any]:
    if ids is None:
        return _child(server.url, server.token, "--bulk-unknown", str(size))
    with tempfile.TemporaryDirectory() as tmp:
        ids_file = Path(tmp) / "ids.txt"
        ids_file.write_text("\n".join(ids))
        return _child(server.url, server.token, "--bulk-ids-file", str(ids_file))


def _page_bytes(limit: int) -> int:
    from benchmarks._bodies import make_bodies

    return len(make_bodies(limit).page)


if __name__ == "__main__":
    raise SystemExit(main())
