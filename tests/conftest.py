"""Shared test configuration and the fixtures more than one test module uses."""

from __future__ import annotations

import inspect
import logging
import os
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aioresponses.core
import pytest
from aiohttp import ClientResponse

from qoder_async.testing import FakeQoderServer
from tests.fake_server_support import NOW, Clock, auth_headers


def _patch_aioresponses_for_aiohttp_314() -> None:
    """aiohttp 3.14 made ``ClientResponse(stream_writer=...)`` required; aioresponses
    0.7.x does not pass it yet (pnuckowski/aioresponses#289). Give the mocked responses
    a writer that reports nothing written, so the adapter tests run on the aiohttp
    users actually get (3.14 is a security release)."""
    if "stream_writer" not in inspect.signature(ClientResponse.__init__).parameters:
        return

    class CompatClientResponse(ClientResponse):
        def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
            super().__init__(method, url, **kwargs)

    aioresponses.core.ClientResponse = CompatClientResponse  # type: ignore[attr-defined]


_patch_aioresponses_for_aiohttp_314()


# -- shared fixtures ----------------------------------------------------------------------
# Defined once here (not imported into test modules); each name says what it gives.


@pytest.fixture
def fake_clock() -> Clock:
    """The clock of ``fake_server``, at :data:`~tests.fake_server_support.NOW` until moved."""
    return Clock(NOW)


@pytest.fixture
def fake_server_options(fake_clock: Clock) -> dict[str, Any]:
    """Keyword arguments for ``fake_server``; a module overrides it to change the server."""
    return {"clock": fake_clock}


@pytest.fixture
async def fake_server(fake_server_options: dict[str, Any]) -> AsyncIterator[FakeQoderServer]:
    """A started ``FakeQoderServer(**fake_server_options)``, closed after the test."""
    async with FakeQoderServer(**fake_server_options) as server:
        yield server


@pytest.fixture
async def fake_http(fake_server: FakeQoderServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw aiohttp session on ``fake_server``'s base URL, authenticated with its token."""
    headers = auth_headers(fake_server)
    async with aiohttp.ClientSession(base_url=fake_server.url + "/", headers=headers) as session:
        yield session


@pytest.fixture
def sdk_logger() -> Iterator[logging.Logger]:
    """The ``qoder_async`` logger emptied for the test (so QODER_LOG acts), restored after."""
    logger = logging.getLogger("qoder_async")
    saved_handlers, saved_level = logger.handlers[:], logger.level
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    try:
        yield logger
    finally:
        logger.handlers[:] = saved_handlers
        logger.setLevel(saved_level)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throw-away redis-server; fails (never skips) when it is not installed."""
    from tests.contrib_support import redis_server

    with redis_server(tmp_path) as url:
        yield url


# The project's own tests decode strictly: a response that does not fit its model must
# fail the test, not log a warning. Tests of the lenient default say so explicitly.
os.environ.setdefault("QODER_STRICT_RESPONSES", "1")
