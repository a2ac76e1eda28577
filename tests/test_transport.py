"""AiohttpTransport under aioresponses: what goes on the wire, and how failures map."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

from qoder_async._messages import Request
from qoder_async.config import Limits
from qoder_async.errors import APIConnectionError, APITimeoutError, QoderError, ResponseDecodeError
from qoder_async.transport import AiohttpTransport, MockTransport, Transport

URL = "https://api.example/api/v1/cloud/deployments"


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    t = AiohttpTransport()
    yield t
    await t.aclose()


def test_both_transports_satisfy_the_protocol() -> None:
    assert isinstance(AiohttpTransport(), Transport)
    assert isinstance(MockTransport(lambda r: MockTransport.respond(r)), Transport)


async def test_sends_method_headers_params_and_body(transport: AiohttpTransport) -> None:
    seen: dict[str, Any] = {}

    def capture(url: Any, **kwargs: Any) -> CallbackResult:
        seen["url"] = str(url)
        seen.update(kwargs)
        return CallbackResult(status=200, body=b'{"ok":1}', headers={"X-Request-Id": "req_1"})

    with aioresponses() as mocked:
        mocked.post(f"{URL}?limit=5", callback=capture)
        response = await transport.send(
            Request(
                method="POST",
                url=URL,
                headers={"Authorization": "Bearer pt-x", "Idempotency-Key": "k1"},
                params={"limit": "5"},
                content=b"{}",
            )
        )
    assert response.status == 200
    assert response.content == b'{"ok":1}'
    assert response.header("x-request-id") == "req_1"
    assert seen["headers"]["Authorization"] == "Bearer pt-x"
    assert seen["headers"]["Idempotency-Key"] == "k1"
    assert seen["data"] == b"{}"
    assert seen["allow_redirects"] is False


async def test_every_status_comes_back_as_a_response(transport: AiohttpTransport) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, status=503, body=b"")
        mocked.get(URL, status=302, headers={"Location": "https://evil.example/"})
        assert (await transport.send(Request(method="GET", url=URL))).status == 503
        redirect = await transport.send(Request(method="GET", url=URL))
    assert redirect.status == 302
    assert redirect.header("location") == "https://evil.example/"


async def test_connect_failure_is_not_sent(transport: AiohttpTransport) -> None:
    error = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("api.example", 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    with aioresponses() as mocked:
        mocked.get(URL, exception=error)
        with pytest.raises(APIConnectionError) as info:
            await transport.send(Request(method="GET", url=URL))
    assert info.value.maybe_sent is False
    assert "could not connect" in str(info.value)


@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        aiohttp.ClientPayloadError("truncated"),
    ],
)
async def test_failure_after_sending_is_maybe_sent(
    transport: AiohttpTransport, exc: Exception
) -> None:
    with aioresponses() as mocked:
        mocked.post(URL, exception=exc)
        with pytest.raises(APIConnectionError) as info:
            await transport.send(Request(method="POST", url=URL, content=b"{}"))
    assert info.value.maybe_sent is True
    assert not isinstance(info.value, APITimeoutError)


async def test_read_timeout_is_a_maybe_sent_timeout(transport: AiohttpTransport) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, exception=aiohttp.SocketTimeoutError("read timed out"))
        with pytest.raises(APITimeoutError) as info:
            await transport.send(Request(method="GET", url=URL))
    assert info.value.maybe_sent is True


async def test_connect_timeout_is_not_sent(transport: AiohttpTransport) -> None:
    with aioresponses() as mocked:
        mocked.get(URL, exception=aiohttp.ConnectionTimeoutError("connect timed out"))
        with pytest.raises(APITimeoutError) as info:
            await transport.send(Request(method="GET", url=URL))
    assert info.value.maybe_sent is False


async def test_oversized_body_is_refused() -> None:
    transport = AiohttpTransport(limits=Limits(max_response_bytes=1024))
    try:
        with aioresponses() as mocked:
            mocked.get(URL, body=b"x" * 4096)
            with pytest.raises(ResponseDecodeError, match="1024-byte cap"):
                await transport.send(Request(method="GET", url=URL))
    finally:
        await transport.aclose()


def has_session(transport: AiohttpTransport) -> bool:
    # A function call, so the type checker does not narrow the property for good.
    return transport.session_created


async def test_session_is_created_lazily_and_closed_once() -> None:
    transport = AiohttpTransport()
    assert not has_session(transport)
    with aioresponses() as mocked:
        mocked.get(URL, body=b"{}")
        await transport.send(Request(method="GET", url=URL))
    assert has_session(transport)
    await transport.aclose()
    await transport.aclose()
    assert not has_session(transport)
    with pytest.raises(QoderError, match="closed"):
        await transport.send(Request(method="GET", url=URL))


async def test_borrowed_session_is_left_open() -> None:
    async with aiohttp.ClientSession() as session:
        transport = AiohttpTransport(session=session)
        with aioresponses() as mocked:
            mocked.get(URL, body=b"{}")
            assert (await transport.send(Request(method="GET", url=URL))).status == 200
        await transport.aclose()
        assert not session.closed


def test_use_from_a_second_asyncio_run_rebuilds_the_session() -> None:
    transport = AiohttpTransport()

    async def once() -> int:
        with aioresponses() as mocked:
            mocked.get(URL, body=b"{}")
            return (await transport.send(Request(method="GET", url=URL))).status

    assert asyncio.run(once()) == 200
    assert asyncio.run(once()) == 200

    async def close() -> None:
        await transport.aclose()

    asyncio.run(close())


async def test_use_from_another_running_loop_is_a_clear_error() -> None:
    transport = AiohttpTransport()
    with aioresponses() as mocked:
        mocked.get(URL, body=b"{}")
        await transport.send(Request(method="GET", url=URL))

    def in_thread() -> str:
        async def attempt() -> str:
            try:
                await transport.send(Request(method="GET", url=URL))
            except QoderError as exc:
                return str(exc)
            return "no error"

        return asyncio.run(attempt())

    message = await asyncio.to_thread(in_thread)
    assert "another, still running event loop" in message
    await transport.aclose()


async def test_mock_transport_records_and_answers() -> None:
    async def handler(request: Request) -> Any:
        return MockTransport.respond(request, 201, json_body={"id": 1})

    mock = MockTransport(handler)
    response = await mock.send(Request(method="POST", url=URL, content=b"{}"))
    assert response.status == 201
    assert response.json() == {"id": 1}
    assert [r.method for r in mock.requests] == ["POST"]
    await mock.aclose()
    assert mock.closed
