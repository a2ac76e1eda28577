"""A credential a user's middleware adds as a plain ``str`` never shows in an error's repr.

SDK-built credentials hide themselves (``SecretHeaderValue``); a header added by a
per-attempt middleware is an ordinary string, so only ``Request``'s own repr masking
keeps it out of tracebacks and logs.
"""

from __future__ import annotations

import pytest

from qoder_async import APIConnectionError, QoderClient, RetryPolicy
from qoder_async._messages import Request, Response
from qoder_async.middleware import Handler
from qoder_async.testing import FakeQoderServer, Fault, FaultPlan

API_KEY = "user-api-key-5f1c9e"
SESSION = "session=cookie-value-77d2"


async def add_plain_credentials(request: Request, call_next: Handler) -> Response:
    assert type(API_KEY) is str
    return await call_next(request.with_headers({"X-Api-Key": API_KEY, "Cookie": SESSION}))


async def test_plain_string_credentials_are_masked_in_the_error_request_repr(
    qoder_fake_server: FakeQoderServer,
) -> None:
    (dep,) = qoder_fake_server.seed_deployments(1)
    qoder_fake_server.faults = FaultPlan().script("deployments.pause", [Fault.reset_before()])
    async with QoderClient(
        qoder_fake_server.token,
        base_url=qoder_fake_server.url,
        per_attempt_middleware=[add_plain_credentials],
        retry=RetryPolicy(max_attempts=1),
    ) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.deployments.pause(dep)
    carried = info.value.request
    assert carried is not None
    assert carried.headers["X-Api-Key"] == API_KEY  # the transport sent it as given
    shown = repr(carried)
    assert API_KEY not in shown
    assert "cookie-value" not in shown
    assert shown.count("[redacted]") == 3  # Authorization, X-Api-Key, Cookie
    assert dep in shown  # the rest of the request is still there to debug with
