"""Shared pieces for the tests that drive ``FakeQoderServer`` over real loopback HTTP.

Plain helpers (a hand-moved clock, the recorded fixtures, their key shape, one JSON
request) and the pytest fixtures ``clock``, ``server_options``, ``server`` and ``http``.
The fixtures are registered under those names; a test module imports the ``*_fixture``
functions it wants and may define its own ``clock`` or ``server_options`` to change what
the server is built with::

    from tests.fake_server_support import (
        http_fixture,  # noqa: F401 (pytest fixture)
        server_fixture,  # noqa: F401 (pytest fixture)
        ...
    )
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from qoder_async.testing import FakeQoderServer

__all__ = [
    "FIXTURES",
    "NOW",
    "Clock",
    "auth_headers",
    "call",
    "clock_fixture",
    "fixture",
    "http_fixture",
    "server_fixture",
    "server_options_fixture",
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


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    """The server's clock, at :data:`NOW` until the test moves it."""
    return Clock(NOW)


@pytest.fixture(name="server_options")
def server_options_fixture(clock: Clock) -> dict[str, Any]:
    """Keyword arguments for the ``server`` fixture's ``FakeQoderServer``."""
    return {"clock": clock}


@pytest.fixture(name="server")
async def server_fixture(server_options: dict[str, Any]) -> AsyncIterator[FakeQoderServer]:
    """A started ``FakeQoderServer(**server_options)``, closed after the test."""
    async with FakeQoderServer(**server_options) as fake:
        yield fake


@pytest.fixture(name="http")
async def http_fixture(server: FakeQoderServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw aiohttp session on ``server``'s base URL, authenticated with its token."""
    headers = auth_headers(server)
    async with aiohttp.ClientSession(base_url=server.url + "/", headers=headers) as session:
        yield session
