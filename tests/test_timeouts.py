"""Each timeout against real loopback servers that are slow, stalled or hung.

No assertion here is on elapsed time: each server is slow far beyond the timeout under
test and far within every other one, so a call that fails with ``APITimeoutError`` (or
succeeds) shows which timeout was in force.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from qoder_async import APITimeoutError, Limits, QoderClient, RetryPolicy, Timeouts

DEP = "dep_019ec556114c78f8b60ee34fcb98bf59"
BODY = (Path(__file__).parent / "fixtures" / "deployment.json").read_bytes()
SLOW = 3.0  # far beyond the short timeouts under test, far within the defaults
ONE_ATTEMPT = RetryPolicy.disabled()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _serve(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/api/v1/cloud"
    finally:
        await runner.cleanup()


def _answering_after(delay: float) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        return web.Response(body=BODY, content_type="application/json")

    return handler


@pytest.fixture
async def slow_url() -> AsyncIterator[str]:
    """Answers every request after ``SLOW`` seconds of silence."""
    async for url in _serve(_answering_after(SLOW)):
        yield url


@pytest.fixture
async def quick_then_slow_url() -> AsyncIterator[str]:
    """Answers after 1 s: beyond a 0.3 s read timeout, within a 5 s one."""
    async for url in _serve(_answering_after(1.0)):
        yield url


@pytest.fixture
async def stalled_url() -> AsyncIterator[str]:
    """Sends the headers and half the body, then stalls."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(BODY)
        await response.prepare(request)
        await response.write(BODY[: len(BODY) // 2])
        await asyncio.sleep(SLOW)
        return response

    async for url in _serve(handler):
        yield url


@pytest.fixture
async def trickling_url() -> AsyncIterator[str]:
    """Never silent for long, never done: one byte every 50 ms for ``SLOW`` seconds."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(int(SLOW / 0.05)):
            await response.write(b" ")
            await asyncio.sleep(0.05)
        await response.write(BODY)
        return response

    async for url in _serve(handler):
        yield url


@pytest.fixture
async def hung_tls_url() -> AsyncIterator[str]:
    """Accepts TCP connections and never says a word: a TLS handshake hangs."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}/api/v1/cloud"
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


TOKEN = "pt-timeouts-test-secret"


def _client(url: str, **kwargs: object) -> QoderClient:
    kwargs.setdefault("retry", ONE_ATTEMPT)
    return QoderClient(TOKEN, base_url=url, **kwargs)  # type: ignore[arg-type]


async def test_with_options_read_timeout_takes_effect(slow_url: str) -> None:
    async with _client(slow_url) as client:
        quick = client.with_options(timeout=Timeouts(read=0.3))
        with pytest.raises(APITimeoutError) as info:
            await quick.deployments.get(DEP)
    assert info.value.maybe_sent is True  # the request was written: a read timeout


async def test_with_options_can_lengthen_the_clients_read_timeout(
    quick_then_slow_url: str,
) -> None:
    async with _client(quick_then_slow_url, timeout=Timeouts(read=0.3)) as client:
        with pytest.raises(APITimeoutError):
            await client.deployments.get(DEP)
        patient = client.with_options(timeout=Timeouts(read=5.0))
        assert (await patient.deployments.get(DEP)).id == DEP


async def test_per_call_timeout_overrides_the_client(quick_then_slow_url: str) -> None:
    async with _client(quick_then_slow_url) as client:
        with pytest.raises(APITimeoutError):
            await client.deployments.get(DEP, timeout=Timeouts(read=0.3))
        with pytest.raises(APITimeoutError):
            await client.deployments.get(DEP, timeout=0.3)  # seconds: the attempt's total
        assert (await client.deployments.get(DEP)).id == DEP  # the client's own again


async def test_read_timeout_cuts_a_stalled_body(stalled_url: str) -> None:
    async with _client(stalled_url, timeout=Timeouts(read=0.3)) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.deployments.get(DEP)
    assert info.value.maybe_sent is True


async def test_total_cuts_a_response_that_is_never_silent_for_long(trickling_url: str) -> None:
    async with _client(trickling_url, timeout=Timeouts(read=1.0, total=0.5)) as client:
        with pytest.raises(APITimeoutError, match=r"timed out after 0\.5s"):
            await client.deployments.get(DEP)


async def test_deadline_bounds_the_call_when_no_attempt_timeout_is_set(
    trickling_url: str,
) -> None:
    policy = RetryPolicy(max_attempts=3, deadline=0.5)
    timeouts = Timeouts(read=1.0, total=None)
    async with _client(trickling_url, timeout=timeouts, retry=policy) as client:
        with pytest.raises(APITimeoutError):
            await client.deployments.get(DEP)


async def test_pool_timeout_bounds_the_wait_for_a_free_connection(slow_url: str) -> None:
    timeouts = Timeouts(pool=0.3, connect=0.3, read=10.0)
    limits = Limits(max_connections=1, max_connections_per_host=1)
    async with _client(slow_url, timeout=timeouts, limits=limits) as client:
        first = asyncio.ensure_future(client.deployments.get(DEP))
        await asyncio.sleep(0.1)  # let the first call take the only connection
        with pytest.raises(APITimeoutError, match="free connection") as info:
            await client.deployments.get(DEP)
        assert info.value.maybe_sent is False  # never left the pool: safe to retry
        assert (await first).id == DEP


async def test_connect_timeout_covers_a_hung_tls_handshake(hung_tls_url: str) -> None:
    context = ssl.create_default_context()
    timeouts = Timeouts(pool=None, connect=0.3, read=10.0)
    async with _client(
        hung_tls_url, timeout=timeouts, ssl_context=context, allow_insecure_http=False
    ) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.deployments.get(DEP)
    assert info.value.maybe_sent is False


async def test_attempt_timeout_is_retried_and_counted(quick_then_slow_url: str) -> None:
    policy = RetryPolicy(max_attempts=2, jitter=False, initial_backoff=0.01)
    async with _client(quick_then_slow_url, retry=policy, timeout=Timeouts(read=0.3)) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.deployments.get(DEP)
    assert info.value.attempts == 2
    assert info.value.maybe_applied is False  # a GET


async def test_a_timeout_shows_no_token_even_with_locals(slow_url: str) -> None:
    async with _client(slow_url, timeout=Timeouts(read=0.3)) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.deployments.get(DEP)
    rendered = "".join(
        traceback.TracebackException.from_exception(info.value, capture_locals=True).format()
    )
    assert "TimeoutError" in rendered  # the chain below was rendered too
    assert TOKEN not in rendered


def test_body_fixture_is_the_deployment_asked_for() -> None:
    assert json.loads(BODY)["id"] == DEP
