"""The log lines of the retry layer: one per retry (info) and one per attempt (debug).

Headers go through the observability allow-list; the token never reaches a log line.
"""

from __future__ import annotations

import logging
import time

from qoder_async._messages import Request, Response
from qoder_async.errors import APIStatusError
from qoder_async.middleware import IDEMPOTENCY_HEADER
from qoder_async.observability import loggable_headers

__all__ = ["describe", "log_attempt", "logger"]

logger = logging.getLogger("qoder_async")


def describe(error: BaseException | None) -> str:
    """A short account of an attempt's error for the retry log line."""
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status}"
    return f"{type(error).__name__}: {error}"


def log_attempt(
    request: Request,
    number: int,
    begun: float,
    *,
    response: Response | None = None,
    error: BaseException | None = None,
) -> None:
    """One debug line for one attempt: status, timing, ids and allow-listed headers."""
    # The headers as sent (auth and defaults are added below this layer), when known.
    sent = request
    response_headers: dict[str, str] | None = None
    if response is not None:
        status: object = response.status
        request_id = response.header("x-request-id") or response.header("request-id")
        sent = response.request
        response_headers = loggable_headers(response.headers)
    else:
        status = getattr(error, "status", None) or type(error).__name__
        request_id = getattr(error, "request_id", None)
        attempted = getattr(error, "request", None)
        if isinstance(attempted, Request):
            sent = attempted
    logger.debug(
        "%s %s status=%s attempt=%d elapsed_ms=%.1f request_id=%s idempotency_key=%s "
        "request_headers=%s response_headers=%s",
        request.method,
        request.path,
        status,
        number,
        (time.monotonic() - begun) * 1000.0,
        request_id,
        request.header(IDEMPOTENCY_HEADER),
        loggable_headers(sent.headers),
        response_headers,
        extra={
            "qoder_method": request.method,
            "qoder_path": request.path,
            "qoder_status": status,
            "qoder_attempt": number,
            "qoder_request_id": request_id,
        },
    )
