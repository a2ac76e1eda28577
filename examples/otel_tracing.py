"""Trace every attempt of every call with OpenTelemetry, or time it without.

    python examples/otel_tracing.py            # OpenTelemetry if installed, else timings
    python examples/otel_tracing.py --no-otel  # plain timings either way

It starts a fake Qoder API in-process (no account needed) that fails a few requests, so
retries show up as attempts of their own: one span (or one timing) per attempt.

The hook is a *per-attempt middleware*: it runs inside the retry loop, after the auth
headers are set, so it sees every try with its real status. With OpenTelemetry
(``pip install opentelemetry-sdk``) each attempt becomes a CLIENT span named after the
route (ids replaced by placeholders, so span names stay few), with the status, the
API's request id, and a ``traceparent`` header injected for the server side. In your
application, pass ``trace.get_tracer(__name__)`` from your configured provider instead of
the in-memory one used here to print the spans.

Without OpenTelemetry, ``qoder_async.observability.metrics_middleware`` with an
``AttemptStats`` sink collects counts and timings per method, route and outcome; point
the sink at your metrics client instead (it receives one ``AttemptRecord`` per attempt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

from qoder_async import Handler, Middleware, NotFoundError, QoderClient, Request, Response
from qoder_async.observability import AttemptStats, metrics_middleware, route_of
from qoder_async.testing import FakeQoderServer, Fault, FaultPlan


def otel_middleware(tracer: Any) -> Middleware:
    """A per-attempt middleware that wraps each attempt in an OpenTelemetry span."""
    # Imported here: the example runs without OpenTelemetry (which has no type stubs).
    from opentelemetry import propagate  # type: ignore[import-not-found, unused-ignore]
    from opentelemetry.trace import SpanKind  # type: ignore[import-not-found, unused-ignore]

    async def trace_attempt(request: Request, call_next: Handler) -> Response:
        route = route_of(request.url)
        name = f"{request.method} {route}"
        with tracer.start_as_current_span(name, kind=SpanKind.CLIENT) as span:
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("url.template", route)
            carrier: dict[str, str] = {}
            propagate.inject(carrier)  # traceparent, so the server's spans join this trace
            try:
                response = await call_next(request.with_headers(carrier))
            except Exception as error:
                # 4xx/5xx arrive as typed errors carrying the status; the span records
                # the exception and marks itself failed on the way out.
                status = getattr(error, "status", None)
                if isinstance(status, int):
                    span.set_attribute("http.response.status_code", status)
                raise
            span.set_attribute("http.response.status_code", response.status)
            request_id = response.header("x-request-id")
            if request_id:
                span.set_attribute("qoder.request_id", request_id)
            return response

    return trace_attempt


def in_memory_tracer() -> tuple[Any, Any] | None:
    """A tracer whose finished spans can be printed, or None without the OTel SDK."""
    try:
        from opentelemetry.sdk.trace import (  # type: ignore[import-not-found, unused-ignore]
            TracerProvider,
        )
        from opentelemetry.sdk.trace.export import (  # type: ignore[import-not-found, unused-ignore]
            SimpleSpanProcessor,
        )
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # type: ignore[import-not-found, unused-ignore]
            InMemorySpanExporter,
        )
    except ImportError:
        return None
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("qoder-async-example"), exporter


async def some_calls(client: QoderClient, ids: list[str]) -> None:
    await client.deployments.list(limit=10).to_list()
    await client.deployments.get(ids[0])  # 503, then 429, then 200: three attempts
    await client.deployments.archive(ids[1])  # reset after applying, then replayed: two
    with contextlib.suppress(NotFoundError):  # one attempt, recorded with its 404
        await client.deployments.get("dep_" + "0" * 32)


async def main(use_otel: bool) -> int:
    faults = FaultPlan(
        script={
            "deployments.get": [Fault.unavailable(), Fault.rate_limited(retry_after=0.01)],
            "deployments.archive": [Fault.reset_after()],
        }
    )
    otel = in_memory_tracer() if use_otel else None
    stats = AttemptStats()
    if otel is not None:
        print("Tracing each attempt with OpenTelemetry.")
        middleware = otel_middleware(otel[0])
    else:
        reason = "--no-otel given" if not use_otel else "opentelemetry-sdk is not installed"
        print(f"Timing each attempt with metrics_middleware ({reason}).")
        middleware = metrics_middleware(stats)
    async with FakeQoderServer(faults=faults) as server:
        ids = server.seed_deployments(3)
        async with QoderClient(
            server.token, base_url=server.url, per_attempt_middleware=[middleware]
        ) as client:
            await some_calls(client, ids)
    if otel is not None:
        for span in otel[1].get_finished_spans():
            status = span.attributes.get("http.response.status_code", "-")
            took = (span.end_time - span.start_time) / 1e6
            print(f"span {span.name:<52} status={status} {took:7.2f} ms")
        return 0
    print(f"{'method':<6} {'route':<52} {'outcome':<18} {'count':>5} {'max ms':>8}")
    for row in stats.rows():
        print(
            f"{row['method']:<6} {row['route']:<52} {row['outcome']:<18} "
            f"{row['count']:>5} {row['max_seconds'] * 1000:>8.2f}"
        )
    print(f"{stats.attempts} attempts in all")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--no-otel", action="store_true", help="use the plain timing hook")
    sys.exit(asyncio.run(main(use_otel=not parser.parse_args().no_otel)))
