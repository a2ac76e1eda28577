"""Goodput against a rate-limited server: bulk archive vs a token-bucket gateway.

Each run archives freshly seeded deployments on a throttling fake server in its own
process (``benchmarks._throttled``): a token bucket of rate R and a burst, answering 429
when empty, with or without ``Retry-After`` and ``X-RateLimit-*`` headers, with or
without latency, and once with a limit that drops to 30/s halfway and comes back. Three
clients run side by side in each scenario: ``bulk_archive`` with the client's defaults
(nothing told about the rate), the same with ``QoderClient(rate_limit=R)``, and a naive
loop of 32 workers on raw aiohttp that retries a 429 with exponential backoff.

Reported per run: goodput (ids archived per second / R, with R averaged over the run
when it changes), requests per id and 429s (counted by the server), the longest gap
between two accepted requests, whether every id was archived exactly once, and, when
the limit changes, how long until a 1 s window of accepted requests is back within 5 %
of the new limit.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Sequence
from typing import Any, Literal

import attrs

from benchmarks._results import Section, Settings, Table, Target, fmt
from benchmarks._throttled import ServerHandle, throttled_server

__all__ = ["run"]

CLIENTS = ("defaults", "rate_limit=R", "naive backoff")
CONCURRENCY = 32
RUN_TIMEOUT = 300.0
TICK = 0.1  # the server's timeline bins (qoder_async.testing.throttle.TICK)


@attrs.frozen(kw_only=True)
class Scenario:
    """One server setting."""

    name: str
    rate: float
    burst: float
    ids: int
    quick_ids: int
    retry_after: bool = True
    headers: bool = False
    latency_ms: float = 0.0
    #: (seconds from the first request, rate) changes; with ``phase`` seconds per step.
    changes: tuple[float, ...] = ()
    phase: float = 0.0
    quick_phase: float = 0.0

    def schedule(self, quick: bool) -> list[tuple[float, float]]:
        """The server's rate schedule."""
        step = self.quick_phase if quick else self.phase
        return [(step * (i + 1), rate) for i, rate in enumerate(self.changes)]


SCENARIOS = (
    Scenario(name="R=20/s burst 20", rate=20, burst=20, ids=600, quick_ids=60),
    Scenario(name="R=100/s burst 50, Retry-After", rate=100, burst=50, ids=2000, quick_ids=150),
    Scenario(
        name="R=100/s, no Retry-After, no headers",
        rate=100,
        burst=50,
        ids=2000,
        quick_ids=150,
        retry_after=False,
    ),
    Scenario(
        name="R=100/s, X-RateLimit-* headers",
        rate=100,
        burst=50,
        ids=2000,
        quick_ids=150,
        headers=True,
    ),
    Scenario(
        name="R=100/s, 50 ms latency", rate=100, burst=50, ids=2000, quick_ids=150, latency_ms=50
    ),
    Scenario(
        name="R=100/s -> 30/s -> 100/s",
        rate=100,
        burst=50,
        ids=1500,
        quick_ids=300,
        changes=(30.0, 100.0),
        phase=6.0,
        quick_phase=1.5,
    ),
)


async def _bulk(handle: ServerHandle, rate_limit: float | Literal["auto"]) -> None:
    from qoder_async import QoderClient

    async with QoderClient(handle.token, base_url=handle.url, rate_limit=rate_limit) as client:
        report = await client.deployments.bulk_archive(handle.ids, concurrency=CONCURRENCY)
    if not report.ok:
        raise RuntimeError(f"bulk archive did not finish: {dict(report.counts)}")


async def _naive(handle: ServerHandle) -> None:
    import aiohttp

    pending = iter(handle.ids)
    rng = random.Random(5)
    headers = {"Authorization": f"Bearer {handle.token}", "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        for deployment_id in pending:
            for attempt in range(30):
                url = f"{handle.url}/deployments/{deployment_id}/archive"
                async with session.post(url, headers=headers, data=b"{}") as resp:
                    await resp.read()
                    if resp.status != 429:
                        resp.raise_for_status()
                        break
                await asyncio.sleep(rng.uniform(0.0, min(5.0, 0.1 * 2**attempt)))
            else:
                raise RuntimeError("the naive loop gave up")

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))


def _allowed_rate(scenario: Scenario, schedule: list[tuple[float, float]], wall: float) -> float:
    """The server's rate averaged over ``wall`` seconds from the first request."""
    points = [(0.0, scenario.rate), *schedule, (wall, 0.0)]
    total = 0.0
    for (start, rate), (end, _) in itertools.pairwise(points):
        total += rate * max(0.0, min(end, wall) - start)
    return total / wall


def _recovery(timeline: list[int], schedule: list[tuple[float, float]]) -> float | None:
    """Seconds after each change until 1 s of accepted requests is >= 95 % of the new
    rate (the worst over the changes); ``None`` when it never got there."""
    worst = 0.0
    window = round(1.0 / TICK)
    for at, rate in schedule:
        first = round(at / TICK)
        found = None
        for start in range(first, len(timeline) - window + 1):
            if sum(timeline[start : start + window]) >= 0.95 * rate:
                found = start * TICK - at
                break
        if found is None:
            return None
        worst = max(worst, found)
    return worst


def measure(scenario: Scenario, client: str, settings: Settings) -> dict[str, Any]:
    """One client against a fresh server in ``scenario``."""
    ids = settings.scale(scenario.ids, scenario.quick_ids)
    schedule = scenario.schedule(settings.quick)
    with throttled_server(
        ids,
        rate=scenario.rate,
        burst=scenario.burst,
        retry_after=scenario.retry_after,
        headers=scenario.headers,
        latency_ms=scenario.latency_ms,
        schedule=schedule,
    ) as handle:
        started = time.perf_counter()
        if client == "naive backoff":
            work = _naive(handle)
        else:
            work = _bulk(handle, "auto" if client == "defaults" else scenario.rate)
        asyncio.run(asyncio.wait_for(work, timeout=RUN_TIMEOUT))
        wall = time.perf_counter() - started
        stats = handle.stats()
    allowed = _allowed_rate(scenario, schedule, wall)
    requests = stats["accepted"] + stats["throttled"]
    return {
        "scenario": scenario.name,
        "client": client,
        "ids": ids,
        "wall_s": wall,
        "goodput": ids / wall / allowed,
        "requests_per_id": requests / ids,
        "throttled": stats["throttled"],
        "longest_gap_s": stats["longest_gap"],
        "exactly_once": stats["archived_once"] == ids and stats["archived_twice"] == 0,
        "recovery_s": _recovery(stats["timeline"], schedule) if schedule else None,
    }


def run(settings: Settings) -> Section:
    """Every scenario once, the three clients side by side."""
    runs = [measure(scenario, client, settings) for scenario in SCENARIOS for client in CLIENTS]
    return summarise(runs)


def summarise(runs: Sequence[dict[str, Any]]) -> Section:
    """The table, the targets (for the defaults) and the raw runs."""
    section = Section(name="goodput", title="Goodput against a rate-limited server")
    table = Table(
        title=f"bulk_archive (c={CONCURRENCY}) vs a token-bucket server",
        columns=[
            "scenario",
            "client",
            "ids",
            "goodput",
            "req/id",
            "429s",
            "longest gap s",
            "exactly once",
            "recovery s",
        ],
        text_columns=frozenset({0, 1, 7}),
    )
    for item in runs:
        recovery = item["recovery_s"]
        table.rows.append(
            [
                item["scenario"],
                item["client"],
                str(item["ids"]),
                fmt(item["goodput"], 3),
                fmt(item["requests_per_id"], 3),
                str(item["throttled"]),
                fmt(item["longest_gap_s"], 2),
                "yes" if item["exactly_once"] else "NO",
                "-" if "->" not in item["scenario"] else fmt(recovery, 1, missing="never"),
            ]
        )
        if item["client"] != "defaults":
            continue
        headers = "X-RateLimit" in item["scenario"]
        name = item["scenario"]
        section.targets.append(
            Target.at_least(
                f"goodput, defaults ({name})", item["goodput"], 0.97 if headers else 0.95
            )
        )
        section.targets.append(
            Target.at_most(
                f"requests per id, defaults ({name})",
                item["requests_per_id"],
                1.02 if headers else 1.05,
            )
        )
        if "->" in name:
            section.targets.append(
                Target.at_most(f"seconds back within 5 % of a new limit ({name})", recovery, 5.0)
            )
    once = sum(1 for item in runs if item["exactly_once"]) / len(runs)
    section.targets.append(Target.at_least("share of runs with every id archived once", once, 1.0))
    section.tables.append(table)
    section.data = {"runs": list(runs)}
    section.notes.extend(
        [
            "goodput = ids archived / wall seconds / R (R averaged over the run when it "
            "changes); the server's burst lets a run start a little above 1.",
            "req/id and 429s are counted by the server; 'longest gap' is the longest time "
            "between two requests it accepted.",
            "'rate_limit=R' paces every attempt at the nominal R (100/s in the changing "
            "scenario); 'naive backoff' = 32 raw aiohttp workers retrying a 429 after "
            "uniform(0, min(5, 0.1 * 2^attempt)) s.",
        ]
    )
    return section
