"""Archive deployments across several arq workers, with one merged report at the end.

Runs as written against the fake server (or the real API: set the same variables).
From the repository root, with ``pip install -e '.[arq]'``:

1. Redis and a fake Qoder API holding 2,000 deployments (one terminal each)::

       redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no
       python -m qoder_async.testing --port 8080 --seed-deployments 2000 \\
           --fault-rate 0.02 --seed 1

2. Workers, as many as you like (each in its own terminal)::

       export QODER_BASE_URL=http://127.0.0.1:8080/api/v1/cloud QODER_PAT=pt-fake-token
       export QODER_WORKERS=2            # workers share the API's 20 writes/s
       arq examples.arq_archive.WorkerSettings

3. The producer: list the active deployments, enqueue them in chunks, wait::

       export QODER_BASE_URL=http://127.0.0.1:8080/api/v1/cloud QODER_PAT=pt-fake-token
       python examples/arq_archive.py --chunk-size 200

It prints the merged report as JSON and exits 0 when every id was archived. Run the
producer again: the same chunks map to the same job ids, so nothing is enqueued twice
while the results are kept (a day). ``REDIS_URL`` points both sides at another Redis;
``QODER_RATE_LIMIT`` overrides the per-worker rate (``0``: no cap, for the fake server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from arq import create_pool
from arq.connections import RedisSettings

from qoder_async import QoderClient
from qoder_async.contrib.arq import QoderWorkerSettings, collect_bulk, enqueue_bulk

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
API_WRITE_BUDGET = 20.0  # writes per second for the whole account, per the API docs
WORKERS = max(1, int(os.environ.get("QODER_WORKERS", "1")))


def _rate_limit() -> float | None:
    """Each worker's share of the budget (one chunk at a time per worker)."""
    override = os.environ.get("QODER_RATE_LIMIT")
    if override is not None:
        return float(override) or None
    return API_WRITE_BUDGET / WORKERS


class WorkerSettings(QoderWorkerSettings):
    """``arq examples.arq_archive.WorkerSettings``: client from QODER_PAT/QODER_BASE_URL."""

    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    qoder_concurrency = 8
    qoder_rate_limit = _rate_limit()


async def main(argv: list[str] | None = None) -> int:
    """Enqueue the deployments a list() filter returns, wait, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--action", choices=["archive", "pause", "unpause"], default="archive")
    parser.add_argument("--status", choices=["active", "paused"], default=None)
    parser.add_argument("--chunk-size", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait")
    args = parser.parse_args(argv)
    redis = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    try:
        async with QoderClient() as client:
            # Streams page by page: chunks are enqueued (and workers start) while the
            # listing is still going.
            batch = await enqueue_bulk(
                redis,
                args.action,
                client.deployments.list(status=args.status),
                chunk_size=args.chunk_size,
            )
        print(
            f"{batch.total} ids in {len(batch.job_ids)} chunk jobs "
            f"({batch.created} new, {batch.existing} already enqueued)",
            file=sys.stderr,
        )
        result = await collect_bulk(redis, batch, timeout=args.timeout)
    finally:
        await redis.aclose()
    print(json.dumps(result.as_dict(), indent=2))
    for item in result.report.failed[:20]:
        print(f"{item.id}: {item.outcome} {item.error or ''}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
