"""Archive every paused deployment of one agent, with progress and an honest report.

Run it against the fake server (no account needed)::

    python -m qoder_async fake-server --port 8765 --seed-deployments 500 &
    export QODER_BASE_URL=http://127.0.0.1:8765/api/v1/cloud QODER_PAT=pt-fake-token
    python examples/bulk_archive.py

With no ``--agent-id`` it archives every deployment the list returns.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from qoder_async import DeploymentStatus, QoderClient
from qoder_async.bulk import ItemOutcome


async def main(agent_id: str | None, status: DeploymentStatus | None) -> int:
    done = 0

    def progress(outcome: ItemOutcome) -> None:
        nonlocal done
        done += 1
        if done % 100 == 0:
            print(f"  {done} done", file=sys.stderr)

    async with QoderClient() as client:
        # The list is read lazily, page by page, as slots free up: memory stays flat
        # however many deployments match.
        source = client.deployments.list(agent_id=agent_id, status=status, limit=100)
        report = await client.deployments.bulk_archive(
            source, concurrency=16, rate_limit=20.0, on_outcome=progress
        )
    print(report.as_dict()["counts"], f"in {report.elapsed:.1f}s, {report.attempts} attempts")
    for failure in report.failed:
        print(f"  {failure.id}: {failure.outcome} {failure.error}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent-id")
    parser.add_argument("--status", type=DeploymentStatus, choices=list(DeploymentStatus))
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.agent_id, args.status)))
