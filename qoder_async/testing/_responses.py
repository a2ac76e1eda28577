"""Wire-level pieces of the fake server: bodies, fault responses, resets, idempotency."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from collections import OrderedDict
from typing import Any, NamedTuple

from aiohttp import web

from qoder_async.testing._common import ApiError
from qoder_async.testing.faults import Fault

__all__ = [
    "IdempotencyStore",
    "dumps",
    "error_body",
    "fault_response",
    "reset_connection",
]

_HTML_503 = (
    b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)
_HTML_200 = (
    b"<!DOCTYPE html><html><head><title>Qoder</title></head>"
    b"<body><p>Please wait while we check your browser...</p></body></html>"
)
_LINGER_RESET = struct.pack("ii", 1, 0)
IDEMPOTENCY_CONFLICT = "Idempotency key reused with a different request body."


def dumps(payload: Any) -> bytes:
    """Compact JSON bytes (one ``json.dumps`` per response)."""
    return json.dumps(payload, separators=(",", ":")).encode()


def error_body(status: int, error_type: str, message: str, param: str | None = None) -> bytes:
    """The documented error envelope as bytes."""
    return dumps(ApiError(status, error_type, message, param).envelope())


def _retry_after(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def reset_connection(request: web.BaseRequest) -> web.StreamResponse:
    """Drop the connection so the client gets a reset and not a single response byte.

    SO_LINGER 0 turns the close into a TCP RST (a plain close would be a FIN). The
    returned response is never sent: aiohttp finds the transport closing when it tries
    to write it, treats that as a client disconnect and drops the connection quietly.
    """
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        transport.abort()
    return web.Response(status=204)


def fault_response(request: web.BaseRequest, fault: Fault, request_id: str) -> web.StreamResponse:
    """The response of a fault that rejects the request before it is applied."""
    headers = {"x-request-id": request_id}
    if fault.retry_after is not None:
        headers["Retry-After"] = _retry_after(fault.retry_after)
    if fault.kind == "reset_before":
        return reset_connection(request)
    if fault.kind == "non_json":
        return web.Response(status=200, body=_HTML_200, content_type="text/html", headers=headers)
    if fault.kind == "server_error":
        body = error_body(500, "api_error", "Internal server error.")
        return web.Response(status=500, body=body, content_type="application/json", headers=headers)
    if fault.kind == "rate_limited":
        body = error_body(429, "rate_limit_error", "Too many requests.")
        return web.Response(status=429, body=body, content_type="application/json", headers=headers)
    if fault.body == "html":
        return web.Response(status=503, body=_HTML_503, content_type="text/html", headers=headers)
    if fault.body == "empty":
        return web.Response(status=503, headers=headers)
    body = error_body(503, "overloaded_error", "Service temporarily unavailable.")
    return web.Response(status=503, body=body, content_type="application/json", headers=headers)


def _canonical(raw: bytes) -> bytes:
    """Request bodies compare as JSON values (key order and spacing do not matter)."""
    try:
        if not raw.strip():
            return b""
        return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        return raw


class _Record(NamedTuple):
    fingerprint: tuple[str, str, bytes]
    status: int
    body: bytes
    expires: float


class IdempotencyStore:
    """Stored responses of keyed writes, per token, kept for ``ttl`` seconds.

    A request matches its record when method, path and body (as JSON) are the same; the
    path is part of it so one key cannot archive two different deployments.
    """

    def __init__(self, ttl: float = 24 * 3600.0, max_records: int = 100_000) -> None:
        self.ttl = ttl
        # A bound on memory for long benchmark runs: past it the oldest keys are
        # forgotten early (the real API only promises 24 h, not a count).
        self.max_records = max_records
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def lookup(
        self, token: str, key: str, method: str, path: str, raw: bytes, now: float
    ) -> tuple[int, bytes, bool] | None:
        """``(status, body, replayed)`` for a known key (a 409 body on a mismatch), or None."""
        record = self._records.get((token, key))
        if record is None or record.expires <= now:
            return None
        if record.fingerprint != (method, path, _canonical(raw)):
            return 409, error_body(409, "conflict_error", IDEMPOTENCY_CONFLICT), False
        return record.status, record.body, True

    def remember(
        self,
        token: str,
        key: str,
        method: str,
        path: str,
        raw: bytes,
        response: tuple[int, bytes],
        now: float,
    ) -> None:
        """Store the response of the first execution under ``key``."""
        records = self._records
        records[(token, key)] = _Record((method, path, _canonical(raw)), *response, now + self.ttl)
        records.move_to_end((token, key))  # oldest first, so expiry pops from the front
        while records:
            oldest = next(iter(records.values()))
            if len(records) <= self.max_records and oldest.expires > now:
                break
            records.popitem(last=False)
