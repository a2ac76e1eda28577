"""Create, inspect and archive one deployment.

Run it against the fake server (no account needed)::

    python -m qoder_async fake-server --port 8765 &
    export QODER_BASE_URL=http://127.0.0.1:8765/api/v1/cloud QODER_PAT=pt-fake-token
    python examples/quickstart.py

or against the real API with ``QODER_PAT`` set to your personal access token.
"""

from __future__ import annotations

import asyncio

from qoder_async import ConflictError, QoderClient, ScheduleSpec, UserMessage


async def main() -> None:
    async with QoderClient() as client:  # QODER_PAT and QODER_BASE_URL from the environment
        deployment = await client.deployments.create(
            name="daily-report",
            agent="agent_019eb4d4a06d747c865d5800b9c57ae2",
            environment_id="env_019e64e01a137caf953ac2ac7b42ec5c",
            initial_events=[UserMessage(content="Generate today's status report")],
            schedule=ScheduleSpec(expression="0 9 * * *", timezone="Asia/Shanghai"),
        )
        assert deployment.schedule is not None
        print(f"created {deployment.id}, next run {deployment.schedule.upcoming_runs_at[0]}")

        run = await client.deployments.run(deployment.id)
        print(f"manual run {run.id} is {run.status}")

        paused = await client.deployments.pause(deployment.id)
        print(f"paused: {paused.status} ({paused.paused_reason})")
        try:
            await client.deployments.pause(deployment.id)
        except ConflictError as exc:
            print(f"pausing twice is a conflict: {exc.message}")

        archived = await client.deployments.archive(deployment.id)
        print(f"archived as {archived.name!r} at {archived.archived_at}")

        async for item in client.deployments.list(include_archived=True, limit=100):
            print(f"  {item.id}  {item.status:<7} archived={item.is_archived}")


if __name__ == "__main__":
    asyncio.run(main())
