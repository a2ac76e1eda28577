"""Shared pieces for the end-to-end tests against FakeQoderServer over loopback."""

from __future__ import annotations

from qoder_async import QoderClient, RetryPolicy
from qoder_async.testing import FakeQoderServer

FAST_RETRY = RetryPolicy(max_attempts=10, initial_backoff=0.001, max_backoff=0.01)
"""Real sleeps, but short: faults are retried without slowing the suite down."""


def client_for(server: FakeQoderServer, **kwargs: object) -> QoderClient:
    """A real client (aiohttp transport) pointed at ``server``."""
    options: dict[str, object] = {"retry": FAST_RETRY}
    options.update(kwargs)
    return QoderClient(server.token, base_url=server.url, **options)  # type: ignore[arg-type]
