"""Archive deployments with Celery workers (Redis broker and result backend).

Runs as written against the fake server (or the real API: set the same variables).
From the repository root, with ``pip install -e '.[celery]'``:

1. Redis and a fake Qoder API holding 2,000 deployments (one terminal each)::

       redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no
       python -m qoder_async.testing --port 8080 --seed-deployments 2000 --seed 1

2. A worker: two processes, each running one chunk at a time::

       export QODER_BASE_URL=http://127.0.0.1:8080/api/v1/cloud QODER_PAT=pt-fake-token
       export QODER_PROCESSES=2          # all worker processes: they share 20 writes/s
       celery -A examples.celery_archive worker --pool=prefork --concurrency=2 -l INFO

3. The producer: list the active deployments, send one task per chunk, merge::

       export QODER_BASE_URL=http://127.0.0.1:8080/api/v1/cloud QODER_PAT=pt-fake-token
       python examples/celery_archive.py --chunk-size 200

It prints the merged report as JSON and exits 0 when every id was archived.
``REDIS_URL`` points both sides at another Redis; ``QODER_RATE_LIMIT`` overrides the
per-process rate (``0``: no cap, for the fake server). Each task runs its chunk in a
fresh event loop with a fresh client (see ``qoder_async.contrib.celery`` for why).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from celery import Celery

from qoder_async import DeploymentStatus, QoderClient
from qoder_async.contrib.celery import chunked, merge_results, register_bulk_task

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
API_WRITE_BUDGET = 20.0  # writes per second for the whole account, per the API docs
PROCESSES = max(1, int(os.environ.get("QODER_PROCESSES", "2")))


def _rate_limit() -> float | None:
    """Each worker process's share of the budget (a process runs one task at a time)."""
    override = os.environ.get("QODER_RATE_LIMIT")
    if override is not None:
        return float(override) or None
    return API_WRITE_BUDGET / PROCESSES


app = Celery("qoder_archive", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # One chunk at a time per process: a prefetched chunk would wait behind a long one,
    # and with late acks it would also be redelivered if the process died.
    worker_prefetch_multiplier=1,
    result_expires=86_400,
    broker_connection_retry_on_startup=True,
)
bulk = register_bulk_task(app, concurrency=8, rate_limit=_rate_limit())


async def _list_ids(status: DeploymentStatus | None) -> list[str]:
    async with QoderClient() as client:
        return [d.id async for d in client.deployments.list(status=status)]


def main(argv: list[str] | None = None) -> int:
    """Send the deployments a list() filter returns as chunk tasks, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--action", choices=["archive", "pause", "unpause"], default="archive")
    parser.add_argument("--status", type=DeploymentStatus, choices=list(DeploymentStatus))
    parser.add_argument("--chunk-size", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per chunk")
    args = parser.parse_args(argv)
    started = time.monotonic()
    ids = asyncio.run(_list_ids(args.status))
    pending = [bulk.delay(args.action, chunk) for chunk in chunked(ids, args.chunk_size)]
    print(f"{len(ids)} ids in {len(pending)} tasks", file=sys.stderr)
    results: list[dict[str, Any]] = [result.get(timeout=args.timeout) for result in pending]
    report = merge_results(args.action, results)
    report.elapsed = time.monotonic() - started
    print(json.dumps({**report.as_dict(), "tasks": len(pending)}, indent=2))
    for item in report.failed[:20]:
        print(f"{item.id}: {item.outcome} {item.error or ''}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
