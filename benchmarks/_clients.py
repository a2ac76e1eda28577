"""The three ways of archiving many deployments that the bulk benchmark compares.

Each function archives every id at the given concurrency against a running server and
returns how many calls ended in an archived deployment. They share one shape so the
harness can time them identically:

* ``ours``: ``client.deployments.bulk_archive`` (validation, idempotency key, retry,
  typed errors, a decoded ``Deployment`` per call, a per-id report);
* ``raw``: aiohttp with a semaphore, ``json.loads`` of each body and nothing else: the
  floor any aiohttp-based client is measured against;
* ``qca``: the vendor's ``qca-sdk`` async client (httpx + pydantic) with its defaults,
  bounded by a semaphore because it has no bulk helper.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from qoder_async import QoderClient
from qoder_async.bulk import Outcome

__all__ = ["CLIENTS", "ArchiveAll", "available", "qca_available"]

ArchiveAll = Callable[[str, str, Sequence[str], int], Awaitable[int]]
"""``(base_url, token, ids, concurrency) -> calls that archived their deployment``."""

# aiohttp's default pool is 100 connections; give the raw loop the same 256 that
# qoder-async's default ``Limits`` allows, so c=256 means the same thing for both.
_POOL = 256
_ARCHIVE_BODY = b"{}"


async def archive_ours(base_url: str, token: str, ids: Sequence[str], concurrency: int) -> int:
    """``bulk_archive`` with the SDK's defaults."""
    async with QoderClient(token, base_url=base_url) as client:
        report = await client.deployments.bulk_archive(ids, concurrency=concurrency)
    return report.counts[Outcome.ARCHIVED]


async def archive_raw(base_url: str, token: str, ids: Sequence[str], concurrency: int) -> int:
    """A plain aiohttp loop: POST, read, ``json.loads``, no models, no retries."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=_POOL, limit_per_host=_POOL)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(deployment_id: str) -> bool:
            async with semaphore:
                url = f"{base_url}/deployments/{deployment_id}/archive"
                async with session.post(url, data=_ARCHIVE_BODY, headers=headers) as resp:
                    status = resp.status
                    body = await resp.read()
            data: Any = json.loads(body)
            return status == 200 and data.get("archived_at") is not None

        results = await asyncio.gather(*(one(deployment_id) for deployment_id in ids))
    return sum(results)


async def archive_qca(base_url: str, token: str, ids: Sequence[str], concurrency: int) -> int:
    """The vendor client (``qca.managed.AsyncManaged``) with its default settings."""
    # Imported on use: the ``bench`` extra may be absent, and its import is slow.
    from qca.managed import AsyncManaged  # type: ignore[import-not-found, unused-ignore]

    client = AsyncManaged(pat=token, base_url=base_url)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(deployment_id: str) -> bool:
        async with semaphore:
            deployment = await client.deployments.archive(deployment_id)
        return deployment.archived_at is not None

    try:
        results = await asyncio.gather(*(one(deployment_id) for deployment_id in ids))
    finally:
        await client.close()
    return sum(results)


CLIENTS: dict[str, ArchiveAll] = {"ours": archive_ours, "raw": archive_raw, "qca": archive_qca}


def qca_available() -> bool:
    """Whether the vendor client (from the ``bench`` extra) can be imported."""
    return importlib.util.find_spec("qca") is not None


def available(name: str) -> bool:
    """Whether client ``name`` can run here."""
    return name != "qca" or qca_available()
