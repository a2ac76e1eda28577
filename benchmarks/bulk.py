"""Bulk archive throughput and client CPU: ours vs raw aiohttp vs the vendor client.

Every run archives freshly seeded deployments on a fake server in another process (a new
server per run, so no client ever meets an already-archived deployment), with 0 ms and
20 ms of server latency, at concurrency 1, 16, 64 and 256. The clients run one after the
other inside each repeat, in a rotating order, so drift on the machine hits them alike;
the table shows medians over repeats.

Client CPU is ``time.process_time()`` over the run in this process (user + system, so
the socket system calls count); the server's CPU is read from its own process when
``psutil`` is installed, which tells whether the server was the bottleneck.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from typing import Any

import attrs

from benchmarks._clients import CLIENTS, available
from benchmarks._results import NA, Section, Settings, Table, Target, fmt, median, ratio
from benchmarks._server import fake_server

__all__ = ["run"]

LATENCIES_MS = (0.0, 20.0)
CONCURRENCIES = (1, 16, 64, 256)
CLIENT_ORDER = ("ours", "raw", "qca")
CALLS = 5000
#: The vendor client does a few hundred calls a second; its rate is steady well before
#: 1,000 calls, and 5,000 would make the full run take several minutes longer.
QCA_CALLS = 1000
#: With server latency a run at low concurrency is latency-bound: cap it near this many
#: seconds (c=1 at 20 ms does 250 calls instead of 5,000; the rate is the same).
LATENCY_BOUND_SECONDS = 5.0
RUN_TIMEOUT = 180.0
TARGET_CONCURRENCY = 64


@attrs.frozen(kw_only=True)
class Run:
    """One client archiving ``calls`` deployments once."""

    client: str
    latency_ms: float
    concurrency: int
    calls: int
    archived: int
    wall_s: float
    cpu_s: float
    server_cpu_s: float | None

    @property
    def rate(self) -> float:
        """Archive calls per second (wall clock)."""
        return self.calls / self.wall_s

    @property
    def cpu_us(self) -> float:
        """Client CPU microseconds per call."""
        return self.cpu_s / self.calls * 1e6


def calls_for(client: str, latency_ms: float, concurrency: int, settings: Settings) -> int:
    """How many archives one run of ``client`` does in this scenario."""
    calls = settings.scale(CALLS, 64)
    if client == "qca":
        calls = min(calls, settings.scale(QCA_CALLS, 64))
    if latency_ms > 0:
        per_second = concurrency * 1000.0 / latency_ms
        calls = min(calls, max(concurrency, int(per_second * LATENCY_BOUND_SECONDS)))
    return calls


def _server_cpu(pid: int) -> float | None:
    try:
        import psutil  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def _timed(
    client: str, url: str, token: str, ids: Sequence[str], c: int
) -> tuple[int, float, float]:
    archive_all = CLIENTS[client]
    wall, cpu = time.perf_counter(), time.process_time()
    archived = await asyncio.wait_for(archive_all(url, token, ids, c), timeout=RUN_TIMEOUT)
    return archived, time.perf_counter() - wall, time.process_time() - cpu


def measure(client: str, latency_ms: float, concurrency: int, calls: int) -> Run:
    """Start a fresh server with ``calls`` deployments and let ``client`` archive them."""
    with fake_server(calls, latency_ms=latency_ms) as server:
        # Collect now so a collection left over from the previous run is not billed here.
        gc.collect()
        server_before = _server_cpu(server.pid)
        archived, wall, cpu = asyncio.run(
            _timed(client, server.url, server.token, server.ids, concurrency)
        )
        server_after = _server_cpu(server.pid)
    server_cpu = None
    if server_before is not None and server_after is not None:
        server_cpu = server_after - server_before
    return Run(
        client=client,
        latency_ms=latency_ms,
        concurrency=concurrency,
        calls=calls,
        archived=archived,
        wall_s=wall,
        cpu_s=cpu,
        server_cpu_s=server_cpu,
    )


def run(settings: Settings) -> Section:
    """Run every scenario ``settings.repeats`` times and summarise the medians."""
    concurrencies = (1, TARGET_CONCURRENCY) if settings.quick else CONCURRENCIES
    clients = [name for name in CLIENT_ORDER if available(name)]
    runs: list[Run] = []
    for latency_ms in LATENCIES_MS:
        for concurrency in concurrencies:
            for repeat in range(settings.repeats):
                shift = repeat % len(clients)
                for client in clients[shift:] + clients[:shift]:
                    calls = calls_for(client, latency_ms, concurrency, settings)
                    runs.append(measure(client, latency_ms, concurrency, calls))
    return summarise(runs, latencies=LATENCIES_MS, concurrencies=concurrencies)


def _medians(runs: Sequence[Run]) -> dict[str, Any]:
    servers = [r.server_cpu_s / r.wall_s for r in runs if r.server_cpu_s is not None]
    return {
        "calls": runs[0].calls,
        "repeats": len(runs),
        "rate": median(r.rate for r in runs),
        "cpu_us": median(r.cpu_us for r in runs),
        "all_archived": all(r.archived == r.calls for r in runs),
        "server_busy": median(servers) if servers else None,
    }


def summarise(
    runs: Sequence[Run], *, latencies: Sequence[float], concurrencies: Sequence[int]
) -> Section:
    """Turn raw runs into the section's table, targets and JSON."""
    section = Section(name="bulk", title="Bulk archive: requests/s and client CPU per call")
    table = Table(
        title="bulk_archive vs raw aiohttp vs qca-sdk (medians)",
        columns=[
            "latency",
            "c",
            "calls ours/raw/qca",
            "ours req/s",
            "raw req/s",
            "qca req/s",
            "ours/raw",
            "ours/qca",
            "ours CPU µs",
            "raw CPU µs",
            "qca CPU µs",
            "CPU ours/raw",
            "server busy",
        ],
    )
    scenarios: list[dict[str, Any]] = []
    for latency_ms in latencies:
        for concurrency in concurrencies:
            stats: dict[str, dict[str, Any] | None] = {}
            for client in CLIENT_ORDER:
                mine = [
                    r
                    for r in runs
                    if r.client == client
                    and r.latency_ms == latency_ms
                    and r.concurrency == concurrency
                ]
                stats[client] = _medians(mine) if mine else None
            scenario = _scenario(latency_ms, concurrency, stats)
            scenarios.append(scenario)
            table.rows.append(_row(scenario, stats))
            if concurrency == TARGET_CONCURRENCY:
                section.targets.extend(_targets(scenario))
    section.tables.append(table)
    section.data = {"scenarios": scenarios, "runs": [attrs.asdict(r) for r in runs]}
    section.notes.extend(
        [
            "Client CPU = process_time (user+system) in the client process; the server "
            "runs in its own process.",
            "'server busy' = server CPU / wall time during ours' runs (needs psutil); "
            "near 100 % means the server, not the client, set the pace.",
            f"qca-sdk does at most {QCA_CALLS:,} calls per run and runs with its defaults "
            "(httpx pool of 100 connections, 2 retries). With latency, low-concurrency "
            f"runs are capped near {LATENCY_BOUND_SECONDS:g} s of calls.",
        ]
    )
    for scenario in scenarios:
        if scenario["concurrency"] == TARGET_CONCURRENCY and scenario["latency_ms"] > 0:
            raw, qca = scenario["clients"]["raw"], scenario["clients"]["qca"]
            if raw and qca:
                ceiling = TARGET_CONCURRENCY * 1000.0 / scenario["latency_ms"]
                section.notes.append(
                    f"At {scenario['latency_ms']:g} ms, c={TARGET_CONCURRENCY} no client can "
                    f"exceed {ceiling:,.0f} req/s; raw aiohttp itself reaches "
                    f"{raw['rate'] / qca['rate']:.1f}x qca-sdk there."
                )
    if any(not s["all_archived"] for s in scenarios):
        section.notes.append("WARNING: some runs did not archive every deployment.")
    return section


def _scenario(
    latency_ms: float, concurrency: int, stats: dict[str, dict[str, Any] | None]
) -> dict[str, Any]:
    ours, raw, qca = (stats[name] for name in CLIENT_ORDER)

    def get(block: dict[str, Any] | None, key: str) -> float | None:
        return None if block is None else block[key]

    return {
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "clients": stats,
        "rate_ours_over_raw": ratio(get(ours, "rate"), get(raw, "rate")),
        "rate_ours_over_qca": ratio(get(ours, "rate"), get(qca, "rate")),
        "cpu_ours_over_raw": ratio(get(ours, "cpu_us"), get(raw, "cpu_us")),
        "all_archived": all(block["all_archived"] for block in stats.values() if block),
    }


def _row(scenario: dict[str, Any], stats: dict[str, dict[str, Any] | None]) -> list[str]:
    def cell(client: str, key: str, digits: int = 0) -> str:
        block = stats[client]
        return NA if block is None else fmt(block[key], digits)

    calls = "/".join(str(block["calls"]) if block else "-" for block in stats.values())
    ours = stats["ours"]
    busy = ours.get("server_busy") if ours else None
    return [
        f"{scenario['latency_ms']:g} ms",
        str(scenario["concurrency"]),
        calls,
        cell("ours", "rate"),
        cell("raw", "rate"),
        cell("qca", "rate"),
        fmt(scenario["rate_ours_over_raw"], 2, missing="n/a"),
        fmt(scenario["rate_ours_over_qca"], 1, missing="n/a"),
        cell("ours", "cpu_us"),
        cell("raw", "cpu_us"),
        cell("qca", "cpu_us"),
        fmt(scenario["cpu_ours_over_raw"], 2, missing="n/a"),
        "n/a" if busy is None else f"{busy:.0%}",
    ]


def _targets(scenario: dict[str, Any]) -> list[Target]:
    where = f"c={scenario['concurrency']}, {scenario['latency_ms']:g} ms"
    return [
        Target.at_least(
            f"bulk throughput ours/raw ({where})", scenario["rate_ours_over_raw"], 0.85
        ),
        Target.at_least(f"bulk throughput ours/qca ({where})", scenario["rate_ours_over_qca"], 5.0),
        Target.at_most(f"client CPU/call ours/raw ({where})", scenario["cpu_ours_over_raw"], 1.3),
    ]
