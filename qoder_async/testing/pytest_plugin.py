"""pytest plugin registered through the ``pytest11`` entry point.

Fixtures:

* ``qoder_fake_server`` — a started :class:`~qoder_async.testing.FakeQoderServer`,
  closed afterwards.
* ``qoder_fake_server_options`` — keyword arguments for that server (tokens, faults,
  latency, clock, seed, ...); override it to change them. Default: none.
* ``qoder_client`` — a ``QoderClient`` bound to that server (its URL and token), closed
  afterwards.
* ``qoder_client_options`` — keyword arguments for that client (``retry``, ``timeout``,
  ``middleware``, ``sleep``, ...); override it to change them. Default: none.

Scope: all four share one scope, ``function`` unless the ini option
``qoder_async_fixture_scope`` says otherwise (``class``, ``module``, ``package`` or
``session``). With a wider scope the async fixtures run in an event loop of that scope,
so the tests using them must too (``asyncio_default_test_loop_scope`` set to the same
scope, or ``@pytest.mark.asyncio(loop_scope=...)``), an override of an options fixture
must have that scope, and the server's counters carry over from test to test (call
``qoder_fake_server.reset_counters()`` where that matters).

The plugin is loaded into *every* pytest run of anyone who has this package installed,
so it must cost nothing and break nothing: the fake server and ``aiohttp.web`` are
imported only when a fixture is used, and pytest-asyncio (a test-only dependency we do
not require) is imported only when its plugin is active. Without it the async fixtures
cannot run, so they skip the test with an explanation instead of failing the user's
whole session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from qoder_async.client import QoderClient
    from qoder_async.testing.server import FakeQoderServer

__all__ = ["SCOPES", "SCOPE_OPTION", "build_fixtures"]

#: The ini option that chooses the fixtures' scope.
SCOPE_OPTION = "qoder_async_fixture_scope"
#: The scopes it accepts.
SCOPES = ("function", "class", "module", "package", "session")
_NEEDS_PYTEST_ASYNCIO = "the {} fixture needs pytest-asyncio (pip install pytest-asyncio)"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``qoder_async_fixture_scope`` ini option."""
    parser.addini(
        SCOPE_OPTION,
        help=f"scope of the qoder_* fixtures: one of {', '.join(SCOPES)} (default function)",
        default="function",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the fixtures with the scope the ini option chose."""
    scope = str(config.getini(SCOPE_OPTION)).strip() or "function"
    if scope not in SCOPES:
        raise pytest.UsageError(f"{SCOPE_OPTION} must be one of {', '.join(SCOPES)}: {scope!r}")
    # Active, not merely installed: ``-p no:asyncio`` leaves async fixtures unable to run.
    have_asyncio = any(
        getattr(plugin, "__name__", "").startswith("pytest_asyncio")
        for plugin in config.pluginmanager.get_plugins()
    )
    config.pluginmanager.register(build_fixtures(scope, have_asyncio), "qoder_async.fixtures")


def build_fixtures(scope: str, have_asyncio: bool) -> object:
    """The plugin object holding the four fixtures, at ``scope``.

    ``have_asyncio=False`` builds the stand-ins that skip the test, as when
    pytest-asyncio is not installed.
    """
    if have_asyncio:
        return _async_fixtures(scope)
    return _skipping_fixtures(scope)


def _options_fixtures(scope: Any) -> type:
    class OptionsFixtures:
        @pytest.fixture(scope=scope)
        def qoder_fake_server_options(self) -> dict[str, Any]:
            """Keyword arguments for ``FakeQoderServer`` in ``qoder_fake_server``."""
            return {}

        @pytest.fixture(scope=scope)
        def qoder_client_options(self) -> dict[str, Any]:
            """Keyword arguments for ``QoderClient`` in ``qoder_client``."""
            return {}

    return OptionsFixtures


def _async_fixtures(scope: Any) -> object:
    import pytest_asyncio

    # Pass loop_scope only when it matters: pytest-asyncio < 0.24 does not know it.
    loop: dict[str, Any] = {} if scope == "function" else {"loop_scope": scope}

    class AsyncFixtures(_options_fixtures(scope)):  # type: ignore[misc]
        @pytest_asyncio.fixture(scope=scope, **loop)
        async def qoder_fake_server(
            self, qoder_fake_server_options: dict[str, Any]
        ) -> AsyncIterator[FakeQoderServer]:
            """A started fake Qoder server: use ``.url`` and ``.token``; closed afterwards."""
            from qoder_async.testing.server import FakeQoderServer

            async with FakeQoderServer(**qoder_fake_server_options) as server:
                yield server

        @pytest_asyncio.fixture(scope=scope, **loop)
        async def qoder_client(
            self, qoder_fake_server: FakeQoderServer, qoder_client_options: dict[str, Any]
        ) -> AsyncIterator[QoderClient]:
            """A ``QoderClient`` bound to ``qoder_fake_server``, closed afterwards.

            It decodes strictly (``strict_responses=True``, unless ``qoder_client_options``
            says otherwise): a test should fail on a response that does not fit its model,
            not log a warning.
            """
            from qoder_async.client import QoderClient

            options = {
                "base_url": qoder_fake_server.url,
                "strict_responses": True,
                **qoder_client_options,
            }
            async with QoderClient(qoder_fake_server.token, **options) as client:
                yield client

    return AsyncFixtures()


def _skipping_fixtures(scope: Any) -> object:
    class SkippingFixtures(_options_fixtures(scope)):  # type: ignore[misc]
        @pytest.fixture(scope=scope)
        def qoder_fake_server(self) -> FakeQoderServer:
            """Unavailable: needs pytest-asyncio."""
            pytest.skip(_NEEDS_PYTEST_ASYNCIO.format("qoder_fake_server"))

        @pytest.fixture(scope=scope)
        def qoder_client(self) -> QoderClient:
            """Unavailable: needs pytest-asyncio."""
            pytest.skip(_NEEDS_PYTEST_ASYNCIO.format("qoder_client"))

    return SkippingFixtures()
