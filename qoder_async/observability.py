"""Logging switch, header redaction for logs, and a ready per-attempt metrics hook.

The SDK logs through the stdlib logger ``qoder_async`` and adds no handler of its own,
unless ``QODER_LOG`` asks for one:

* ``QODER_LOG=debug`` -- one line per attempt (method, path, status, attempt, elapsed,
  request id, idempotency key, allow-listed headers) plus the ``info`` lines;
* ``QODER_LOG=info`` -- one line before each retry sleep (what failed, how long it waits);
* ``QODER_LOG=warning`` -- only warnings.

It is read when a ``QoderClient`` is built and adds a ``StreamHandler`` on stderr to the
``qoder_async`` logger only if that logger has no handler yet: an application that
configures logging itself keeps full control, and the root logger is never touched.

Headers are logged through an allow-list (``LOGGED_HEADERS``); every other value,
credentials first, is shown as ``[redacted]``.

For metrics or tracing, pass a per-attempt middleware to the client:
``QoderClient(per_attempt_middleware=[metrics_middleware(sink)])`` calls ``sink`` with
an ``AttemptRecord`` after every attempt, retries included; ``AttemptStats`` is a ready
in-memory sink. ``examples/otel_tracing.py`` shows an OpenTelemetry span per attempt.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from qoder_async._messages import Request, Response, url_path
from qoder_async._redaction import REDACTED
from qoder_async.middleware import Handler, Middleware

__all__ = [
    "LOGGED_HEADERS",
    "LOGGER_NAME",
    "LOG_ENV",
    "AttemptRecord",
    "AttemptStats",
    "configure_logging_from_env",
    "loggable_headers",
    "metrics_middleware",
    "route_of",
]

LOGGER_NAME = "qoder_async"
LOG_ENV = "QODER_LOG"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

LOGGED_HEADERS = frozenset(
    {
        "accept",
        "content-length",
        "content-type",
        "date",
        "user-agent",
        "idempotency-key",
        "idempotent-replayed",
        "x-request-id",
        "request-id",
        "retry-after",
        "retry-after-ms",
    }
)
"""Lower-case header names whose values may appear in a log line (plus ``x-ratelimit-*``)."""

_LOGGED_PREFIX = "x-ratelimit-"

logger = logging.getLogger(LOGGER_NAME)


def configure_logging_from_env(environ: Mapping[str, str] | None = None) -> logging.Handler | None:
    """Apply ``QODER_LOG`` (``debug``, ``info`` or ``warning``); ``QoderClient`` calls it.

    Returns the handler it added, or ``None`` when the variable is unset or invalid (an
    invalid value warns), or when the ``qoder_async`` logger already has a handler.
    """
    env = os.environ if environ is None else environ
    value = env.get(LOG_ENV, "").strip().lower()
    if not value:
        return None
    level = _LEVELS.get(value)
    if level is None:
        warnings.warn(
            f"{LOG_ENV}={value!r} is ignored: use one of {', '.join(_LEVELS)}",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    if logger.handlers:
        return None
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


def loggable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with every value that is not allow-listed shown as ``[redacted]``."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        allowed = lowered in LOGGED_HEADERS or lowered.startswith(_LOGGED_PREFIX)
        shown[name] = value if allowed else REDACTED
    return shown


# Ids in paths become placeholders, so a route is a low-cardinality metric label.
_ID_SEGMENT = re.compile(r"/(dep|drun)_[0-9a-z]+(?=/|$)")
_PLACEHOLDER = {"dep": "/{deployment_id}", "drun": "/{run_id}"}


def route_of(url: str) -> str:
    """The URL's path with ids replaced: ``/api/v1/cloud/deployments/{deployment_id}``."""
    path = url_path(url).split("?", 1)[0]
    return _ID_SEGMENT.sub(lambda match: _PLACEHOLDER[match.group(1)], path)


@attrs.frozen(kw_only=True)
class AttemptRecord:
    """One attempt, as ``metrics_middleware`` reports it.

    Attributes:
        method: HTTP method.
        route: Path with ids as placeholders (see ``route_of``).
        status: HTTP status, or ``None`` when no response arrived.
        error: Exception class name when the attempt failed (a 4xx/5xx included).
        elapsed: Seconds the attempt took.
        request_id: The API's request id, when it sent one.
    """

    method: str
    route: str
    status: int | None
    error: str | None
    elapsed: float
    request_id: str | None

    @property
    def outcome(self) -> str:
        """The status as text, or the error name when there was no response."""
        return str(self.status) if self.status is not None else (self.error or "unknown")


AttemptSink = Callable[[AttemptRecord], object]
"""Receives every attempt's record (a metrics client, a list's ``append``, ...)."""


def metrics_middleware(sink: AttemptSink) -> Middleware:
    """A per-attempt middleware that reports each attempt to ``sink``.

    Use it as ``QoderClient(per_attempt_middleware=[metrics_middleware(sink)])``. It
    sees every retry as its own attempt and the status of 4xx/5xx answers (they arrive
    as typed errors). A sink that raises is logged and ignored, never failing the call.
    """

    async def record_attempt(request: Request, call_next: Handler) -> Response:
        begun = time.perf_counter()
        try:
            response = await call_next(request)
        except BaseException as error:  # cancellation too: it ends the attempt
            status = getattr(error, "status", None)
            _report(
                sink,
                request,
                status if isinstance(status, int) else None,
                type(error).__name__,
                begun,
                getattr(error, "request_id", None),
            )
            raise
        request_id = response.header("x-request-id") or response.header("request-id")
        _report(sink, request, response.status, None, begun, request_id)
        return response

    return record_attempt


def _report(
    sink: AttemptSink,
    request: Request,
    status: int | None,
    error: str | None,
    begun: float,
    request_id: Any,
) -> None:
    record = AttemptRecord(
        method=request.method,
        route=route_of(request.url),
        status=status,
        error=error,
        elapsed=time.perf_counter() - begun,
        request_id=request_id if isinstance(request_id, str) else None,
    )
    try:
        sink(record)
    except Exception:
        logger.warning("metrics sink %r failed; the call goes on", sink, exc_info=True)


@attrs.define
class _Totals:
    count: int = 0
    total_seconds: float = 0.0
    max_seconds: float = 0.0


class AttemptStats:
    """A ready in-memory sink: attempt counts and timings per method, route and outcome.

    >>> stats = AttemptStats()
    >>> client = QoderClient(per_attempt_middleware=[metrics_middleware(stats)])  # doctest: +SKIP
    >>> stats.rows()                                                               # doctest: +SKIP
    [{'method': 'GET', 'route': '/api/v1/cloud/deployments', 'outcome': '200', 'count': 3, ...}]
    """

    def __init__(self) -> None:
        self._totals: dict[tuple[str, str, str], _Totals] = {}

    def __call__(self, record: AttemptRecord) -> None:
        """Add one attempt."""
        key = (record.method, record.route, record.outcome)
        totals = self._totals.get(key)
        if totals is None:
            totals = self._totals[key] = _Totals()
        totals.count += 1
        totals.total_seconds += record.elapsed
        totals.max_seconds = max(totals.max_seconds, record.elapsed)

    @property
    def attempts(self) -> int:
        """Attempts recorded in all."""
        return sum(totals.count for totals in self._totals.values())

    def rows(self) -> list[dict[str, Any]]:
        """One dict per (method, route, outcome), sorted, ready to print or export."""
        return [
            {
                "method": method,
                "route": route,
                "outcome": outcome,
                "count": totals.count,
                "total_seconds": totals.total_seconds,
                "max_seconds": totals.max_seconds,
            }
            for (method, route, outcome), totals in sorted(self._totals.items())
        ]
