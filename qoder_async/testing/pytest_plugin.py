"""pytest plugin registered through the ``pytest11`` entry point.

Fixtures:

* ``qoder_fake_server`` — a started :class:`~qoder_async.testing.FakeQoderServer`
  (function scope), closed after the test. Override ``qoder_fake_server_options`` to pass
  constructor arguments (tokens, faults, latency, ...).
* ``qoder_client`` — a ``QoderClient`` bound to that server, closed after the test.

The plugin is loaded into *every* pytest run of anyone who has this package installed,
so it must cost nothing and break nothing: aiohttp and the server are imported only when
a fixture is used, and pytest-asyncio (a test-only dependency we do not require) is
imported only if present. Without it the async fixture cannot run, so the fixture skips
the test with an explanation instead of failing the user's whole session at import.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from qoder_async.client import QoderClient
    from qoder_async.testing.server import FakeQoderServer

__all__ = ["qoder_client", "qoder_fake_server", "qoder_fake_server_options"]

_HAVE_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None


@pytest.fixture
def qoder_fake_server_options() -> dict[str, Any]:
    """Keyword arguments for ``FakeQoderServer`` in ``qoder_fake_server``; override it."""
    return {}


if _HAVE_PYTEST_ASYNCIO:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def qoder_fake_server(
        qoder_fake_server_options: dict[str, Any],
    ) -> AsyncIterator[FakeQoderServer]:
        """A started fake Qoder server: use ``.url`` and ``.token``; closed afterwards."""
        from qoder_async.testing.server import FakeQoderServer

        async with FakeQoderServer(**qoder_fake_server_options) as server:
            yield server

else:

    @pytest.fixture
    def qoder_fake_server() -> FakeQoderServer:
        """Unavailable: needs pytest-asyncio (``pip install pytest-asyncio``)."""
        pytest.skip("the qoder_fake_server fixture needs pytest-asyncio")


if _HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def qoder_client(qoder_fake_server: FakeQoderServer) -> AsyncIterator[QoderClient]:
        """A ``QoderClient`` bound to ``qoder_fake_server`` (its URL and token), closed after.

        It decodes strictly (``strict_responses=True``): a test should fail on a
        response that does not fit its model, not log a warning.
        """
        from qoder_async.client import QoderClient

        async with QoderClient(
            qoder_fake_server.token, base_url=qoder_fake_server.url, strict_responses=True
        ) as client:
            yield client

else:

    @pytest.fixture
    def qoder_client() -> QoderClient:
        """Unavailable: needs pytest-asyncio (``pip install pytest-asyncio``)."""
        pytest.skip("the qoder_client fixture needs pytest-asyncio")
