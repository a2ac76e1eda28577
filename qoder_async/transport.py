"""Transports: the one place that talks to the network.

A transport has one verb, ``send(Request) -> Response``, plus ``aclose()``. It returns
every HTTP status as a ``Response`` and raises only ``APIConnectionError`` /
``APITimeoutError``, split into *not sent* (the connection never opened: always safe to
retry) and *maybe sent* (it broke after the request was written). All API knowledge lives
above it, so the same middleware chain runs over aiohttp, aioresponses and ``MockTransport``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import aiohttp

from qoder_async._messages import Request, Response
from qoder_async.config import Limits, Timeouts
from qoder_async.errors import (
    APIConnectionError,
    APITimeoutError,
    QoderError,
    ResponseDecodeError,
    response_decode_error,
)

__all__ = ["AiohttpTransport", "MockTransport", "Transport"]


@runtime_checkable
class Transport(Protocol):
    """What the client needs from a transport."""

    async def send(self, request: Request) -> Response:
        """Send one request and return its response, whatever the status."""
        ...

    async def aclose(self) -> None:
        """Release connections; safe to call twice."""
        ...


class AiohttpTransport:
    """The default transport, on an ``aiohttp.ClientSession``.

    The session is created lazily inside the running loop on first use (so the transport
    can be built outside any loop) and is closed by ``aclose`` only when this transport
    created it; a session passed in is borrowed and left open.

    Args:
        session: A session to borrow instead of creating one.
        timeouts: The pool / connect / read timeouts for a request that carries none
            (``Request.timeout`` wins; ``total`` is the retry layer's to enforce).
        limits: Pool size and the response size cap.
        ssl_context: A custom ``ssl.SSLContext`` (used for every request, on an owned or
            a borrowed session); certificate verification stays on unless the context
            says otherwise.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        limits: Limits | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._timeouts = timeouts or Timeouts()
        self._limits = limits or Limits()
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._max_bytes = self._limits.max_response_bytes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = os.getpid()
        self._closed = False
        # The aiohttp timeout of the last Timeouts seen: nearly every request carries
        # its client's one object, so this is one identity check per request.
        self._last_timeouts: Timeouts | None = None
        self._last_client_timeout = _client_timeout(self._timeouts)

    @property
    def session_created(self) -> bool:
        """Whether an owned session exists (and so needs ``aclose``)."""
        return self._owns_session and self._session is not None and not self._session.closed

    def _new_session(self) -> aiohttp.ClientSession:
        limits, timeouts = self._limits, self._timeouts
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections,
            limit_per_host=limits.max_connections_per_host,
            keepalive_timeout=limits.keepalive_timeout,
            ssl=self._ssl,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=_client_timeout(timeouts),
            # A session-level cookie jar would leak state between unrelated calls.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            trust_env=False,
        )

    def _session_for_this_loop(self) -> aiohttp.ClientSession:
        if self._closed:
            raise QoderError("this transport is closed; create a new client")
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is loop and self._pid == os.getpid():
            return session
        if not self._owns_session:
            assert session is not None
            if self._pid != os.getpid():
                raise QoderError("a borrowed aiohttp session cannot be used after fork()")
            session_loop = getattr(session, "_loop", loop)
            if session_loop is not loop:
                raise QoderError(
                    "the aiohttp session passed to this client belongs to another event loop"
                )
            self._loop = loop
            return session
        if session is not None:
            if self._pid == os.getpid() and self._loop is not None and not self._loop.is_closed():
                raise QoderError(
                    "this client is bound to another, still running event loop; "
                    "create one client per event loop"
                )
            # The old loop is gone (asyncio.run() ended) or we are in a forked child:
            # its connections cannot be used or awaited any more, so close them now
            # and start over on this loop.
            _abandon(session)
        self._session = self._new_session()
        self._loop = loop
        self._pid = os.getpid()
        return self._session

    async def send(self, request: Request) -> Response:
        """Send ``request`` and read the whole (size-capped) body."""
        session = self._session_for_this_loop()
        timeouts = request.timeout
        if timeouts is None or timeouts is self._last_timeouts:
            timeout = self._last_client_timeout
        else:
            timeout = self._last_client_timeout = _client_timeout(timeouts)
            self._last_timeouts = timeouts
        started = time.monotonic()
        try:
            async with session.request(
                request.method,
                request.url,
                headers=request.headers,
                params=request.params,
                data=request.content,
                allow_redirects=False,
                timeout=timeout,
                # Per request too, so a custom context also applies to a borrowed session
                # (``True`` defers to the session connector's own setting).
                ssl=self._ssl,
            ) as resp:
                length = resp.content_length
                # The usual answer: a plain body of known size within the cap, read
                # here rather than through ``_read_capped`` (a coroutine less per call).
                plain = "Content-Encoding" not in resp.headers
                if length is not None and length <= self._max_bytes and plain:
                    content = await resp.read()
                else:
                    content = await self._read_capped(resp, request)
                # Positional: attrs' keyword construction costs more, and this runs per
                # attempt.
                return Response(
                    resp.status, resp.headers, content, request, time.monotonic() - started
                )
        except (ResponseDecodeError, QoderError):
            raise
        except aiohttp.ConnectionTimeoutError as exc:
            # aiohttp's connect timer covers waiting for a pool slot and opening.
            raise APITimeoutError(
                f"timed out waiting for a free connection or connecting to {_origin(request)}",
                request=request,
                maybe_sent=False,
            ) from exc
        except TimeoutError as exc:
            raise APITimeoutError(
                f"timed out waiting for {request.method} {request.path}",
                request=request,
                maybe_sent=True,
            ) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            # Its own clause: up to aiohttp 3.13.0 this error has no ``os_error`` (reading
            # it raises AttributeError), so the generic clause below cannot describe it.
            raise APIConnectionError(
                f"could not connect to {_origin(request)}: {exc.certificate_error}",
                request=request,
                maybe_sent=False,
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(
                f"could not connect to {_origin(request)}: {exc.os_error or exc}",
                request=request,
                maybe_sent=False,
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(
                f"connection failed during {request.method} {request.path}: "
                f"{type(exc).__name__}: {exc}",
                request=request,
                maybe_sent=True,
            ) from exc

    async def _read_capped(self, resp: aiohttp.ClientResponse, request: Request) -> bytes:
        cap = self._max_bytes
        length = resp.content_length
        # Content-Length counts the encoded bytes: a gzip body within the cap can inflate
        # far beyond it, so an encoded body is always counted as it is decompressed.
        if length is not None and length <= cap and "Content-Encoding" not in resp.headers:
            return await resp.read()
        if length is not None and length > cap:
            self._too_large(resp, request)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > cap:
                self._too_large(resp, request)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, resp: aiohttp.ClientResponse, request: Request) -> None:
        resp.close()
        response = Response(resp.status, resp.headers, b"", request)
        raise response_decode_error(response, f"exceeds the {self._max_bytes}-byte cap")

    async def aclose(self) -> None:
        """Close the session if this transport created it. Idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if session is None or not self._owns_session or session.closed:
            return
        if self._pid != os.getpid() or self._loop is not asyncio.get_running_loop():
            _abandon(session)
            return
        await session.close()


def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    """aiohttp's per-request timeout for ``timeouts``.

    aiohttp's ``connect`` timer runs from asking the pool for a connection until one is
    open (slot wait included), while ``sock_connect`` times TCP + TLS alone; so the pool
    wait and the opening are bounded together by ``pool + connect``. ``total`` is left
    to the retry layer's one per-attempt timer, which also knows the call's deadline.
    """
    pool, connect = timeouts.pool, timeouts.connect
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if pool is None else pool + (connect or 0.0),
        sock_connect=connect,
        sock_read=timeouts.read,
    )


def _abandon(session: aiohttp.ClientSession) -> None:
    """Close a session whose event loop is gone, without awaiting anything on it."""
    connector = session.connector
    session.detach()  # marks it closed, so no "Unclosed client session" warning
    if connector is None:
        return
    if connector._loop.is_closed():
        # Only then: a loop that still runs (a forked child's copy) owns its sockets.
        for protocol in _connections(connector):
            _close_now(getattr(protocol, "transport", None))
    with contextlib.suppress(RuntimeError):
        connector._close()


def _connections(connector: aiohttp.BaseConnector) -> list[Any]:
    """Every connection the pool holds, idle or in use."""
    protocols: list[Any] = [proto for idle in connector._conns.values() for proto, _ in idle]
    protocols.extend(connector._acquired)
    return protocols


def _close_now(transport: Any) -> None:
    """Close a connection's socket at once, though its event loop is closed.

    ``close()`` and ``abort()`` only schedule the socket's closing on the transport's
    loop, which a closed loop refuses; the socket would then stay open until garbage
    collection (with an "unclosed transport" warning). The final step those calls
    schedule is run here directly instead. A TLS transport wraps a plain one.
    """
    while transport is not None:
        inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None)
        finish = getattr(transport, "_call_connection_lost", None)
        if finish is not None and getattr(transport, "_sock", None) is not None:
            # The protocol's callbacks may touch the dead loop: the socket is closed
            # in a ``finally`` all the same.
            with contextlib.suppress(Exception):
                finish(None)
        transport = inner


def _origin(request: Request) -> str:
    scheme, _, rest = request.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


MockHandler = Callable[[Request], Response | Awaitable[Response]]


class MockTransport:
    """A transport that answers from a function, for unit tests with no network.

    The handler receives each ``Request`` and returns a ``Response`` (or awaits one); it
    may raise ``APIConnectionError`` to simulate a network failure. Every request is
    recorded in ``requests``.
    """

    def __init__(self, handler: MockHandler) -> None:
        self._handler = handler
        self.requests: list[Request] = []
        self.closed = False

    async def send(self, request: Request) -> Response:
        """Record the request and answer it with the handler."""
        self.requests.append(request)
        result = self._handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def aclose(self) -> None:
        """Mark the transport closed."""
        self.closed = True

    @staticmethod
    def respond(
        request: Request,
        status: int = 200,
        *,
        json_body: Any = None,
        content: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Build a response to ``request``; ``json_body`` is encoded as JSON."""
        all_headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        return Response(status=status, headers=all_headers, content=content, request=request)
