"""Per-call overhead of the SDK with no network: the whole chain plus decoding.

Each endpoint is called through a ``QoderClient`` on a ``MockTransport`` that answers
with a prebuilt body, so what is timed is everything the SDK does for one call:
argument validation, URL building, the idempotency key, retry bookkeeping, headers,
error decoding, JSON parsing and structuring the model. The reference column is
``json.loads`` of the same body, the least any client must spend on that response.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._bodies import Bodies, make_bodies
from benchmarks._results import Section, Settings, Table, fmt, median
from qoder_async import QoderClient
from qoder_async.transport import MockTransport

__all__ = ["run"]

TOKEN = "pt-benchmark-token"
BASE_URL = "https://api.invalid/api/v1/cloud"
PAGE_ITEMS = 20
Call = Callable[[QoderClient], Awaitable[Any]]


def _router(bodies: Bodies) -> Callable[[Any], Any]:
    headers = {"Content-Type": "application/json"}
    by_suffix = {
        "archive": bodies.archived,
        "pause": bodies.deployment,
        "run": bodies.run,
        "deployments": bodies.page,
    }

    def handle(request: Any) -> Any:
        last = request.url.rsplit("/", 1)[-1]
        if request.method == "POST" and last == "deployments":
            body = bodies.deployment  # create
        elif last.startswith("drun_"):
            body = bodies.run
        else:
            body = by_suffix.get(last, bodies.deployment)
        return MockTransport.respond(request, 200, content=body, headers=headers)

    return handle


def _calls(bodies: Bodies) -> dict[str, tuple[Call, bytes]]:
    dep, run_id = bodies.deployment_id, bodies.run_id

    async def create(client: QoderClient) -> Any:
        return await client.deployments.create(
            name="nightly-report",
            agent="agent_" + "0" * 31 + "1",
            environment_id="env_" + "0" * 31 + "1",
            initial_events=[{"type": "user.message", "content": "Write the report"}],
            schedule={"type": "cron", "expression": "0 9 * * *", "timezone": "UTC"},
        )

    async def list_page(client: QoderClient) -> Any:
        return await client.deployments.list(limit=PAGE_ITEMS).first_page()

    return {
        "deployments.get": (lambda c: c.deployments.get(dep), bodies.deployment),
        "deployments.archive": (lambda c: c.deployments.archive(dep), bodies.archived),
        "deployments.pause": (lambda c: c.deployments.pause(dep), bodies.deployment),
        "deployments.create": (create, bodies.deployment),
        "deployments.run": (lambda c: c.deployments.run(dep), bodies.run),
        "deployment_runs.get": (lambda c: c.deployment_runs.get(run_id), bodies.run),
        f"deployments.list ({PAGE_ITEMS} items)": (list_page, bodies.page),
    }


async def _time_calls(
    client: QoderClient,
    transport: MockTransport,
    call: Call,
    body: bytes,
    *,
    batch: int,
    samples: int,
) -> tuple[float, float]:
    """Median µs per call of ``call`` and of ``json.loads(body)``, taking turns."""
    for _ in range(min(batch, 50)):  # warm up caches and the first-call paths
        await call(client)
    ours: list[float] = []
    loads: list[float] = []
    for _ in range(samples):
        transport.requests.clear()  # the mock records every request; keep memory flat
        started = time.perf_counter()
        for _ in range(batch):
            await call(client)
        ours.append((time.perf_counter() - started) / batch)
        # Right after, so both see the same machine load.
        started = time.perf_counter()
        for _ in range(batch):
            json.loads(body)
        loads.append((time.perf_counter() - started) / batch)
    return median(ours) * 1e6, median(loads) * 1e6


async def _measure(settings: Settings) -> dict[str, dict[str, float]]:
    bodies = make_bodies(PAGE_ITEMS)
    transport = MockTransport(_router(bodies))
    batch = settings.scale(2000, 20)
    samples = settings.scale(max(7, 2 * settings.repeats), 1)
    results: dict[str, dict[str, float]] = {}
    async with QoderClient(TOKEN, base_url=BASE_URL, transport=transport) as client:
        for name, (call, body) in _calls(bodies).items():
            # A list page is 10-20x bigger than one object: fewer calls, same time.
            many = max(1, batch // PAGE_ITEMS) if "list" in name else batch
            gc.collect()
            ours, loads = await _time_calls(
                client, transport, call, body, batch=many, samples=samples
            )
            results[name] = {"bytes": float(len(body)), "ours_us": ours, "json_loads_us": loads}
    return results


def run(settings: Settings) -> Section:
    """Time every endpoint through the mock transport against ``json.loads``."""
    results = asyncio.run(_measure(settings))
    table = Table(
        title="Per-call cost through MockTransport (µs per call, medians)",
        columns=[
            "endpoint",
            "body bytes",
            "ours µs",
            "json.loads µs",
            "SDK overhead µs",
            "× loads",
        ],
    )
    for name, row in results.items():
        table.rows.append(
            [
                name,
                fmt(row["bytes"], 0),
                fmt(row["ours_us"], 1),
                fmt(row["json_loads_us"], 1),
                fmt(row["ours_us"] - row["json_loads_us"], 1),
                fmt(row["ours_us"] / row["json_loads_us"], 1),
            ]
        )
    section = Section(name="overhead", title="Per-call overhead without network")
    section.tables.append(table)
    section.notes.append(
        "Overhead = everything but the network: validation, URL, idempotency key, retry "
        "bookkeeping, headers, error check, JSON parse and model decoding."
    )
    section.data = {"endpoints": results}
    return section
