"""The fake Qoder server: an aiohttp.web application over :class:`FakeState`.

It speaks the wire format of the Deployments API (see the package docs for the endpoint
names used in counters), authenticates bearer tokens, replays idempotent writes and
injects the faults of a :class:`FaultPlan`. Handlers do little work per request (one
``json.dumps`` per response, no logging) so benchmarks can push thousands of requests per
second through it.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, TextIO

from aiohttp import web

from qoder_async.testing._common import ApiError
from qoder_async.testing._responses import (
    IdempotencyStore,
    dumps,
    error_body,
    fault_response,
    reset_connection,
)
from qoder_async.testing.faults import FaultPlan
from qoder_async.testing.inspection import ServerInspection
from qoder_async.testing.queries import parse_deployment_query, parse_run_query
from qoder_async.testing.state import FakeState
from qoder_async.testing.throttle import Throttle
from qoder_async.testing.validation import parse_json_body

__all__ = ["DEFAULT_BASE_PATH", "DEFAULT_TOKEN", "ENDPOINTS", "FakeQoderServer", "serve_forever"]

DEFAULT_BASE_PATH = "/api/v1/cloud"
DEFAULT_TOKEN = "pt-fake-token"
IDEMPOTENCY_TTL = 24 * 3600.0
MAX_BODY = 32 * 1024 * 1024
MAX_IDEMPOTENCY_KEY = 255
#: Every endpoint name used in ``request_counts``/``applied``; unmatched paths count as
#: ``"unknown"``.
ENDPOINTS = (
    "deployments.create",
    "deployments.list",
    "deployments.get",
    "deployments.update",
    "deployments.pause",
    "deployments.unpause",
    "deployments.archive",
    "deployments.run",
    "deployments.runs.list",
    "deployments.runs.get",
    "deployment_runs.list",
    "deployment_runs.get",
)
_BODY_REQUIRED = frozenset({"deployments.create", "deployments.update"})
_REJECTING = frozenset({"rate_limited", "unavailable", "server_error", "reset_before", "non_json"})

Op = Callable[[web.Request, Any], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeQoderServer(ServerInspection):
    """A faithful in-process Qoder Deployments API on loopback.

    >>> async with FakeQoderServer() as server:      # doctest: +SKIP
    ...     server.url, server.token

    What a test reads and sets without HTTP (typed views of deployments and runs,
    request/applied/fault counters per endpoint and deployment, seeding, waiting for a
    condition) comes from :class:`~qoder_async.testing.inspection.ServerInspection`.

    Args:
        host, port: where to listen (default 127.0.0.1 on a free port).
        tokens: accepted bearer tokens (default ``{"pt-fake-token"}``).
        faults: initial fault plan (changeable at runtime through ``server.faults``).
        base_path: path prefix of the API.
        latency: seconds added to every request.
        clock: POSIX seconds now, for deterministic timestamps and idempotency expiry.
        seed: makes generated ids reproducible.

    Attributes:
        url: Base URL of the API once started (``http://127.0.0.1:<port>/api/v1/cloud``).
        token: The first accepted token: give it to the client.
        tokens: Every accepted token.
        faults: The active :class:`FaultPlan`; assign a new one (or None) at any time.
        latency: Seconds added to every request; may be changed at any time.
        state: The in-memory store (:class:`FakeState`) with the raw wire dicts; read
            it through ``deployment()`` / ``deployment_run()`` for typed snapshots.
        request_counts: Requests per endpoint name (every request, rejected, faulted
            and replayed ones included); ``request_count()`` also filters by id.
        applied: Changes applied per endpoint name; ``applied_count()`` also filters
            by id.
        archive_applications: Deployment id -> archives applied to it.
        faults_injected: Injected faults per kind; ``injected_faults()`` lists them.
        throttle: a token bucket answering 429 like a gateway (``server.throttle``
            holds its counters).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] | None = None,
        faults: FaultPlan | None = None,
        base_path: str = DEFAULT_BASE_PATH,
        latency: float = 0.0,
        clock: Callable[[], float] | None = None,
        seed: int | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        accepted = (DEFAULT_TOKEN,) if tokens is None else tuple(tokens)
        if isinstance(tokens, str) or not accepted or not all(accepted):
            raise ValueError("tokens must be a non-empty collection of non-empty strings")
        self.host = host
        self._requested_port = port
        self.tokens: frozenset[str] = frozenset(accepted)
        #: The first configured token; use it as the client's token.
        self.token: str = accepted[0]
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.latency = latency
        #: The in-memory store: ``state.deployments`` and ``state.runs`` wire dicts.
        self.state = FakeState(clock=clock, seed=seed)
        self._init_inspection()
        self._faults = faults if faults is not None else FaultPlan()
        #: The gateway-style rate limit in front of the API, if any.
        self.throttle = throttle
        self._idempotency = IdempotencyStore(IDEMPOTENCY_TTL)
        self._request_ids = random.Random()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._port: int | None = None
        self.app = self._build_app()

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:54321/api/v1/cloud``."""
        if self._url is None:
            raise RuntimeError("the server is not started")
        return self._url

    @property
    def port(self) -> int:
        """The bound port."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    async def start(self) -> None:
        """Bind and start serving."""
        if self._runner is not None:
            raise RuntimeError("the server is already started")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._port = port
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{port}{self.base_path}"

    async def close(self) -> None:
        """Stop serving and close every connection (safe to call twice)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeQoderServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- knobs and helpers for tests ----------------------------------------------------

    @property
    def faults(self) -> FaultPlan:
        """The active fault plan (assign a new one, or None for no faults, at any time)."""
        return self._faults

    @faults.setter
    def faults(self, plan: FaultPlan | None) -> None:
        self._faults = plan if plan is not None else FaultPlan()

    # -- HTTP ---------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        state = self.state
        app = web.Application(client_max_size=MAX_BODY)
        base = self.base_path
        dep = f"{base}/deployments/{{deployment_id}}"
        routes: list[tuple[str, str, str, Op]] = [
            ("POST", f"{base}/deployments", "deployments.create", lambda r, b: state.create(b)),
            (
                "GET",
                f"{base}/deployments",
                "deployments.list",
                lambda r, b: state.list_deployments(parse_deployment_query(r.query)),
            ),
            ("GET", dep, "deployments.get", lambda r, b: state.get(_id(r))),
            ("POST", dep, "deployments.update", lambda r, b: state.update(_id(r), b)),
            ("POST", f"{dep}/pause", "deployments.pause", lambda r, b: state.pause(_id(r))),
            ("POST", f"{dep}/unpause", "deployments.unpause", lambda r, b: state.unpause(_id(r))),
            ("POST", f"{dep}/archive", "deployments.archive", lambda r, b: state.archive(_id(r))),
            ("POST", f"{dep}/run", "deployments.run", lambda r, b: state.run(_id(r))),
            (
                "GET",
                f"{dep}/runs",
                "deployments.runs.list",
                lambda r, b: state.list_runs(parse_run_query(r.query, scoped=True), _id(r)),
            ),
            (
                "GET",
                f"{dep}/runs/{{run_id}}",
                "deployments.runs.get",
                lambda r, b: state.get_run(r.match_info["run_id"], _id(r)),
            ),
            (
                "GET",
                f"{base}/deployment_runs",
                "deployment_runs.list",
                lambda r, b: state.list_runs(parse_run_query(r.query, scoped=False)),
            ),
            (
                "GET",
                f"{base}/deployment_runs/{{run_id}}",
                "deployment_runs.get",
                lambda r, b: state.get_run(r.match_info["run_id"]),
            ),
        ]
        for method, path, name, op in routes:
            app.router.add_route(method, path, self._endpoint(name, op, write=method == "POST"))
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    def _endpoint(self, name: str, op: Op, *, write: bool) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, name, op, write)

        return handle

    def _request_id(self) -> str:
        return f"req_{self._request_ids.getrandbits(96):024x}"

    def _respond(
        self, status: int, body: bytes, *, content_type: str = "application/json"
    ) -> web.Response:
        return web.Response(
            status=status,
            body=body,
            content_type=content_type,
            headers={"x-request-id": self._request_id()},
        )

    def _authenticate(self, request: web.Request) -> str | web.Response:
        """The caller's token, or the 401 response to send."""
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "bearer" and token.strip() in self.tokens:
                return token.strip()
            message = "Invalid API key or token."
        elif "x-api-key" in request.headers:
            message = "x-api-key is not accepted; send Authorization: Bearer <token>."
        else:
            message = "Missing Authorization header."
        return self._respond(401, error_body(401, "authentication_error", message))

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        self._record_request("unknown", None)
        token = self._authenticate(request)
        if isinstance(token, web.Response):
            return token
        message = f"Unknown endpoint: {request.method} {request.path}"
        return self._respond(404, error_body(404, "not_found_error", message))

    async def _handle(
        self, request: web.Request, name: str, op: Op, write: bool
    ) -> web.StreamResponse:
        self._record_request(name, request.match_info.get("deployment_id"))
        token = self._authenticate(request)
        if isinstance(token, web.Response):
            return token
        passed, extra = (True, {}) if self.throttle is None else self.throttle.admit(request.method)
        plan = self._faults
        fault = plan.next_fault(name) if passed else None
        delay = self.latency + plan.latency
        if fault is not None:
            self._record_fault(name, fault.kind, request.match_info.get("deployment_id"))
            delay += fault.seconds
        if delay > 0:
            await asyncio.sleep(delay)
        if not passed:
            assert self.throttle is not None
            response = self._respond(429, self.throttle.rejection())
            response.headers.update(extra)
            return response
        if fault is not None and fault.kind in _REJECTING:
            return fault_response(request, fault, self._request_id())
        try:
            raw = await request.read() if write else b""
        except web.HTTPRequestEntityTooLarge:
            return self._respond(
                400, error_body(400, "invalid_request_error", "Request body is too large.")
            )
        status, body, replayed = self._execute(request, name, op, token, raw, write)
        if fault is not None and fault.kind == "reset_after":
            return reset_connection(request)
        if fault is not None and fault.kind == "truncated_json":
            body = body[: len(body) // 2]
        response = self._respond(status, body)
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        response.headers.update(extra)
        return response

    def _execute(
        self, request: web.Request, name: str, op: Op, token: str, raw: bytes, write: bool
    ) -> tuple[int, bytes, bool]:
        """Run the operation, or replay it for a repeated idempotency key."""
        key = None
        if write:
            key = request.headers.get("Idempotency-Key", request.headers.get("X-Idempotency-Key"))
        if key is None:
            return (*self._apply(request, name, op, raw), False)
        if not key or len(key) > MAX_IDEMPOTENCY_KEY:
            message = f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters."
            return 400, error_body(400, "invalid_request_error", message, "Idempotency-Key"), False
        now = self.state.now()
        method, path = request.method, request.path
        replay = self._idempotency.lookup(token, key, method, path, raw, now)
        if replay is not None:
            return replay
        response = self._apply(request, name, op, raw)
        # A rejected body (400) is not remembered, so the caller can fix it and retry
        # with the same key.
        if response[0] != 400:
            self._idempotency.remember(token, key, method, path, raw, response, now)
        return (*response, False)

    def _apply(self, request: web.Request, name: str, op: Op, raw: bytes) -> tuple[int, bytes]:
        try:
            body = parse_json_body(raw, required=name in _BODY_REQUIRED)
            payload = op(request, body)
        except ApiError as exc:
            return exc.status, dumps(exc.envelope())
        if request.method == "POST":
            created = name == "deployments.create"
            self._record_applied(name, payload["id"] if created else _id(request))
        return 200, dumps(payload)


def _id(request: web.Request) -> str:
    return request.match_info["deployment_id"]


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    tokens: Iterable[str] | None = None,
    faults: FaultPlan | None = None,
    base_path: str = DEFAULT_BASE_PATH,
    latency: float = 0.0,
    seed: int | None = None,
    seed_deployments: int = 0,
    out: TextIO | None = None,
    throttle: Throttle | None = None,
) -> None:
    """Run a fake server until cancelled, printing its URL and token on startup.

    The token printed is a fake one for the fake server (nothing secret).
    """
    stream = sys.stdout if out is None else out
    server = FakeQoderServer(
        host=host,
        port=port,
        tokens=tokens,
        faults=faults,
        base_path=base_path,
        latency=latency,
        seed=seed,
        throttle=throttle,
    )
    if seed_deployments:
        server.seed_deployments(seed_deployments)
    async with server:
        print(f"Fake Qoder server listening on {server.url}", file=stream)
        print(f"Token: {server.token}", file=stream)
        print(f"  export QODER_BASE_URL={server.url}", file=stream)
        print(f"  export QODER_PAT={server.token}", file=stream)
        stream.flush()
        await asyncio.Event().wait()
