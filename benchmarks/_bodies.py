"""Realistic response bodies, made by the fake server's own state (no network).

Taking them from ``FakeState`` rather than from hand-written JSON keeps them in the
shape the API returns (``metadata.cas_config``, five upcoming runs, and so on), the same
shape the bulk and memory benchmarks decode over HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from qoder_async.testing import FakeState

__all__ = ["Bodies", "make_bodies"]


@attrs.frozen(kw_only=True)
class Bodies:
    """Encoded wire bodies, plus the ids they talk about.

    Attributes:
        deployment: One active deployment (GET).
        archived: The same deployment after archive (POST .../archive).
        run: A manual run of it (POST .../run).
        page: A list page of ``page_items`` deployments (GET /deployments).
        page_items: How many deployments ``page`` holds.
        deployment_id: The id of ``deployment``.
        run_id: The id of ``run``.
    """

    deployment: bytes
    archived: bytes
    run: bytes
    page: bytes
    page_items: int
    deployment_id: str
    run_id: str


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def make_bodies(page_items: int) -> Bodies:
    """Bodies for every endpoint the benchmarks call, with a ``page_items``-item page."""
    state = FakeState(seed=11)
    # One more than the page holds: the oldest is archived for the archive body, and
    # stays off the page (a live list does not show archived deployments).
    ids = state.seed(page_items + 1)
    first = ids[-1]  # the newest: first on a list page
    deployment = state.get(first)
    run = state.run(first)
    archived = state.archive(ids[0])
    newest_first = list(reversed(ids))[:page_items]
    page = {
        "data": [state.get(item) for item in newest_first],
        "first_id": newest_first[0],
        "has_more": len(ids) > page_items,
        "last_id": newest_first[-1],
        "next_page": None,
    }
    return Bodies(
        deployment=_encode(deployment),
        archived=_encode(archived),
        run=_encode(run),
        page=_encode(page),
        page_items=page_items,
        deployment_id=first,
        run_id=str(run["id"]),
    )
