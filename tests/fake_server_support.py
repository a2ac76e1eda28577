"""Plain helpers for the tests that drive ``FakeQoderServer`` over real loopback HTTP.

A hand-moved clock, the recorded fixtures, their key shape, one JSON request. The
pytest fixtures built on them (``fake_clock``, ``fake_server_options``, ``fake_server``,
``fake_http``) live in ``tests/conftest.py``; a module overrides ``fake_clock`` or
``fake_server_options`` to change what the server is built with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from qoder_async.testing import FakeQoderServer

__all__ = [
    "FIXTURES",
    "NOW",
    "Clock",
    "auth_headers",
    "call",
    "fixture",
    "shape",
]

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1781427481.0  # 2026-06-14T08:58:01Z


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fixture(name: str) -> Any:
    """The recorded JSON document ``tests/fixtures/<name>``."""
    return json.loads((FIXTURES / name).read_text())


def shape(value: Any) -> Any:
    """Key structure plus null-ness of a JSON value (what "field for field" means here)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None if value is None else "value"


def auth_headers(server: FakeQoderServer) -> dict[str, str]:
    """The ``Authorization`` header carrying ``server``'s own token."""
    return {"Authorization": f"Bearer {server.token}"}


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    """One request; its status and its decoded JSON body."""
    async with http.request(method, path, **kw) as response:
        return response.status, await response.json()
