"""Code as a user writes it, checked by ``mypy --strict`` (``make test``; never run).

Each ``# type: ignore[...]`` marks a call the types must refuse: mypy's
``warn_unused_ignores`` (part of ``--strict``) fails the check if one of them stops
being an error, and ``tests/test_typing_usage.py`` checks each one is refused for the
reason given.
"""

from __future__ import annotations

from qoder_async import (
    Deployment,
    DeploymentRun,
    DeploymentStatus,
    InvalidArgumentError,
    QoderClient,
    QoderError,
    RawResponse,
    RunStatus,
    TriggerType,
)


async def filters_take_literals_or_the_enums(client: QoderClient) -> list[Deployment]:
    paused = await client.deployments.list(status="paused").to_list(max_items=10)
    active = [d async for d in client.deployments.list(status=DeploymentStatus.ACTIVE).take(5)]
    runs: list[DeploymentRun] = [
        r
        async for r in client.deployment_runs.list(
            status=RunStatus.FAILED, trigger_type="schedule", has_error=True
        )
    ]
    failed = client.deployments.runs.list(paused[0].id, status="failed")
    print(len(runs), failed, TriggerType.MANUAL)
    return paused + active


def misspelled_filters_fail_type_checking(client: QoderClient) -> None:
    client.deployments.list(status="archivd")  # type: ignore[arg-type]
    client.deployments.list(status="archived")  # type: ignore[arg-type]
    client.deployment_runs.list(trigger_type="cron")  # type: ignore[arg-type]
    client.deployments.runs.list("dep_1", status="done")  # type: ignore[arg-type]
    client.deployments.list().take("5")  # type: ignore[arg-type]


async def one_except_for_everything(client: QoderClient) -> str:
    try:
        return (await client.deployments.get("dep_1")).name
    except InvalidArgumentError as bad:  # refused before sending: a ValueError too
        return f"bad argument: {bad}"
    except QoderError as failed:
        return f"API error: {failed}"


async def raw_responses_keep_the_model_type(client: QoderClient, dep: str) -> str | None:
    raw: RawResponse[Deployment] = await client.deployments.with_raw_response.get(dep)
    run: RawResponse[DeploymentRun] = await client.deployments.with_raw_response.run(dep)
    again = await client.deployment_runs.with_raw_response.get(run.parse().id)
    print(raw.status, raw.headers.get("content-type"), raw.attempts, again.parse().status)
    return raw.parse().name if raw.request_id else None


async def raw_responses_take_the_same_arguments(client: QoderClient) -> None:
    await client.deployments.with_raw_response.get(1)  # type: ignore[arg-type]
    await client.deployments.with_raw_response.pause("dep_1", idempotency="k")  # type: ignore[call-arg]
    raw = await client.deployments.with_raw_response.archive("dep_1")
    print(raw.parse().runs)  # type: ignore[attr-defined]
