"""Hostile or broken responses: every endpoint raises only typed errors, and never hangs.

The server side is a ``MockTransport`` answering with bodies hypothesis draws (random
JSON, fixtures with a field set to a random value, truncated fixtures, HTML, binary,
empty), random statuses and headers. Whatever comes back, a call either returns its model
or raises a ``QoderError``; never an ``AttributeError``, ``KeyError``, ``TypeError``,
``RecursionError`` or a cattrs exception. The size cap is checked over real loopback HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qoder_async import (
    APIStatusError,
    Limits,
    QoderClient,
    QoderError,
    ResponseDecodeError,
    RetryPolicy,
)
from qoder_async import _json as sdk_json
from qoder_async._messages import Request, Response
from qoder_async._serde import structure_deployment, structure_page, structure_run
from qoder_async.errors import decode_error, snippet
from qoder_async.models import Deployment, DeploymentRun
from qoder_async.resources._base import decode
from qoder_async.transport import MockTransport

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.example/api/v1/cloud"
DEP = "dep_019ec556114c78f8b60ee34fcb98bf59"
RUN = "drun_019ec55a68af73028afa5b87931cb2f3"
AGENT = "agent_019eb4d4a06d747c865d5800b9c57ae2"
ENV = "env_019e64e01a137caf953ac2ac7b42ec5c"
CALL_TIMEOUT = 5.0

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Through the whole client; the decoder alone is swept exhaustively further down.
THROUGH_CLIENT = settings(PROPERTY, max_examples=80)

Call = Callable[[QoderClient], Awaitable[object]]


async def _iterate(paginator: Any) -> object:
    return await paginator.to_list(max_items=200)


CALLS: dict[str, Call] = {
    "deployments.create": lambda c: c.deployments.create(
        name="n",
        agent=AGENT,
        environment_id=ENV,
        initial_events=[{"type": "user.message", "content": "hi"}],
    ),
    "deployments.get": lambda c: c.deployments.get(DEP),
    "deployments.update": lambda c: c.deployments.update(DEP, name="renamed"),
    "deployments.pause": lambda c: c.deployments.pause(DEP),
    "deployments.unpause": lambda c: c.deployments.unpause(DEP),
    "deployments.archive": lambda c: c.deployments.archive(DEP),
    "deployments.run": lambda c: c.deployments.run(DEP),
    "deployments.list": lambda c: c.deployments.list().first_page(),
    "deployments.list(iterate)": lambda c: _iterate(c.deployments.list()),
    "deployments.runs.list": lambda c: c.deployments.runs.list(DEP).first_page(),
    "deployments.runs.list(iterate)": lambda c: _iterate(c.deployments.runs.list(DEP)),
    "deployments.runs.get": lambda c: c.deployments.runs.get(DEP, RUN),
    "deployment_runs.list": lambda c: c.deployment_runs.list().first_page(),
    "deployment_runs.list(iterate)": lambda c: _iterate(c.deployment_runs.list()),
    "deployment_runs.get": lambda c: c.deployment_runs.get(RUN),
}


def _fixture_bytes() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(FIXTURES.glob("*.json"))}


FIXTURE_BYTES = _fixture_bytes()
MODEL_FIXTURES = {
    name: json.loads(body)
    for name, body in FIXTURE_BYTES.items()
    if name.startswith(("deployment", "list_page"))
}

# -- strategies -------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a parsed fixture (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(item, (*prefix, index)))
    return found


WRONG_TYPES: tuple[Any, ...] = (None, True, 0, -1, 1.5, "", "x", [], [1], {}, {"a": 1})
wrong_values = st.one_of(st.sampled_from(WRONG_TYPES), json_values)


def _set(document: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> None:
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(value)  # WRONG_TYPES holds shared lists/dicts


@st.composite
def mutated_fixture(draw: st.DrawFn, names: tuple[str, ...] = tuple(MODEL_FIXTURES)) -> bytes:
    """A real response body with one to three fields set to other values (or removed)."""
    document = copy.deepcopy(MODEL_FIXTURES[draw(st.sampled_from(sorted(names)))])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        _set(document, path, draw(wrong_values), delete=draw(st.booleans()))
    return json.dumps(document).encode()


@st.composite
def truncated_fixture(draw: st.DrawFn) -> bytes:
    body = FIXTURE_BYTES[draw(st.sampled_from(sorted(FIXTURE_BYTES)))].rstrip()
    return body[: draw(st.integers(min_value=0, max_value=len(body) - 1))]


HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
bodies = st.one_of(
    json_values.map(lambda value: json.dumps(value).encode()),
    mutated_fixture(),
    truncated_fixture(),
    st.sampled_from(
        [b"", b" ", b"null", b"[]", b"{}", b"NaN", b'{"a": NaN}', b"\xff\xfe\x00", HTML]
    ),
    st.binary(max_size=64),
)
statuses = st.sampled_from([200, 200, 200, 201, 204, 206, 299, 301, 400, 404, 409, 429, 500, 503])
header_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["1e400", "-1", "nan", "inf", "Fri, 31 Dec 9999 23:59:59 GMT", "0"]),
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/json", "text/html", "text/plain", "application/json; charset=utf-16"]
        ),
        "x-request-id": st.text(max_size=30),
        "Retry-After": header_values,
        "retry-after-ms": header_values,
        "Location": st.text(max_size=30),
    },
)


# -- helpers ----------------------------------------------------------------------------


async def no_sleep(seconds: float) -> None:
    return None


def answer(status: int, body: bytes, header_map: dict[str, str]) -> MockTransport:
    def handler(request: Request) -> Response:
        return Response(status=status, headers=header_map, content=body, request=request)

    return MockTransport(handler)


def outcome_of(call: Call, transport: MockTransport) -> BaseException | None:
    """Run ``call`` on a client over ``transport``; return what it raised, if anything."""

    async def run() -> BaseException | None:
        client = QoderClient("pt-prop", base_url=BASE, transport=transport, sleep=no_sleep, retry=2)
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                await call(client)
        except TimeoutError as exc:  # asyncio.timeout: the call hung
            return AssertionError(f"the call did not finish in {CALL_TIMEOUT}s: {exc!r}")
        except Exception as exc:
            return exc
        finally:
            await client.aclose()
        return None

    return asyncio.run(run())


def check_typed(error: BaseException | None, status: int, body: bytes, request_id: Any) -> None:
    if error is None:
        return
    assert isinstance(error, QoderError), f"untyped {type(error).__name__}: {error!r}"
    if isinstance(error, ResponseDecodeError):
        # A 2xx whose body does not fit: status, request id and a snippet travel with it.
        assert error.status == status
        assert error.request_id == request_id
        assert error.body == snippet(body)
        assert error.body in str(error) or repr(error.body) in str(error)
    if isinstance(error, APIStatusError):
        assert error.status == status
        assert not 200 <= status < 300


# -- properties over every endpoint -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CALLS))
@PROPERTY
@given(status=statuses, body=bodies, header_map=headers)
def test_every_endpoint_raises_only_typed_errors(
    name: str, status: int, body: bytes, header_map: dict[str, str]
) -> None:
    error = outcome_of(CALLS[name], answer(status, body, header_map))
    check_typed(error, status, body, header_map.get("x-request-id"))


def _model_fixtures(call: str) -> tuple[str, ...]:
    if "list" in call:
        kind = "run_list" if "runs" in call else "deployment_list"
        return tuple(n for n in MODEL_FIXTURES if kind in n or n.startswith("list_page"))
    if "runs" in call or call == "deployments.run":
        return tuple(
            n for n in MODEL_FIXTURES if n.startswith("deployment_run") and "list" not in n
        )
    return tuple(n for n in MODEL_FIXTURES if "run" not in n and "list" not in n)


@pytest.mark.parametrize("name", sorted(CALLS))
@THROUGH_CLIENT
@given(data=st.data())
def test_wrongly_typed_fields_of_the_right_model_are_typed_errors(
    name: str, data: st.DataObject
) -> None:
    body = data.draw(mutated_fixture(_model_fixtures(name)), label="body")
    error = outcome_of(CALLS[name], answer(200, body, {"x-request-id": "req_mut"}))
    check_typed(error, 200, body, "req_mut")


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_success_that_is_not_the_model_carries_status_request_id_and_snippet(
    name: str,
) -> None:
    body = b'{"type": "something_else", "hello": "world"}'
    error = outcome_of(CALLS[name], answer(200, body, {"x-request-id": "req_odd"}))
    assert isinstance(error, ResponseDecodeError)
    assert (error.status, error.request_id) == (200, "req_odd")
    assert "something_else" in error.body
    assert "req_odd" in str(error)


def test_bulk_archive_reports_hostile_answers_as_typed_failures() -> None:
    async def run() -> None:
        for status, body in ((200, HTML), (200, b"[]"), (500, b"\xff"), (200, b'{"id": 5}')):
            transport = answer(status, body, {})
            client = QoderClient("pt-prop", base_url=BASE, transport=transport, sleep=no_sleep)
            async with client:
                report = await asyncio.wait_for(
                    client.deployments.bulk_archive(
                        [DEP], retry=RetryPolicy(max_attempts=2, jitter=False)
                    ),
                    CALL_TIMEOUT,
                )
            (outcome,) = report.outcomes.values()
            assert outcome.outcome == "failed"
            assert isinstance(outcome.error, QoderError)

    asyncio.run(run())


# -- the decoder alone: every truncation of every fixture -----------------------------------

STRUCTURES: tuple[Callable[[Any], object], ...] = (
    structure_deployment,
    structure_run,
    lambda data: structure_page(data, Deployment),
    lambda data: structure_page(data, DeploymentRun),
)


@pytest.mark.parametrize("name", sorted(FIXTURE_BYTES))
def test_every_truncation_of_every_fixture_is_a_decode_error(name: str) -> None:
    body = FIXTURE_BYTES[name]
    request = Request(method="GET", url=BASE)
    # Cut anywhere before the last significant byte (a trailing newline is not missing).
    for cut in range(len(body.rstrip())):
        response = Response(
            status=200, headers={"x-request-id": "req_cut"}, content=body[:cut], request=request
        )
        for structure in STRUCTURES:
            with pytest.raises(ResponseDecodeError) as info:
                decode(response, structure)
            assert info.value.request_id == "req_cut"
        # The error decoder takes any truncation too (and stays typed).
        failed = Response(status=500, headers={}, content=body[:cut], request=request)
        assert decode_error(failed).status == 500


@pytest.mark.parametrize("name", sorted(MODEL_FIXTURES))
def test_every_field_of_every_fixture_set_to_every_wrong_type(name: str) -> None:
    request = Request(method="GET", url=BASE)
    original = MODEL_FIXTURES[name]
    refused: list[bool] = []
    for path in _paths(original):
        for value in (*WRONG_TYPES, "deleted"):
            document = copy.deepcopy(original)
            _set(document, path, value, delete=value == "deleted")
            body = json.dumps(document).encode()
            response = Response(status=200, headers={}, content=body, request=request)
            for structure in STRUCTURES:
                try:
                    decode(response, structure)
                except ResponseDecodeError as exc:
                    refused.append(exc.body == snippet(body))
    assert refused  # the sweep did reach the error path
    assert all(refused)  # and every error carried the body's snippet


@PROPERTY
@given(value=json_values)
def test_random_json_never_escapes_the_decoder_untyped(value: Any) -> None:
    response = Response(
        status=200, headers={}, content=json.dumps(value).encode(), request=Request("GET", BASE)
    )
    for structure in STRUCTURES:
        with contextlib.suppress(ResponseDecodeError):
            decode(response, structure)


# -- nesting deeper than any parser recurses ---------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["lists", "objects"])
@pytest.mark.parametrize("parser", ["default", "stdlib"])
def test_deep_nesting_is_a_decode_error(
    body: bytes, parser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if parser == "stdlib":
        # Without orjson the stdlib parser recurses once per level: RecursionError.
        monkeypatch.setattr(sdk_json, "loads", json.loads)
    request = Request(method="GET", url=BASE)
    ok = Response(status=200, headers={"x-request-id": "req_deep"}, content=body, request=request)
    for structure in STRUCTURES:
        with pytest.raises(ResponseDecodeError) as info:
            decode(ok, structure)
        assert info.value.request_id == "req_deep"
    failed = Response(status=502, headers={}, content=body, request=request)
    error = decode_error(failed)
    assert error.status == 502
    assert error.error_type is None


@pytest.mark.parametrize("name", ["deployments.get", "deployments.list(iterate)"])
def test_deep_nesting_through_the_client(name: str) -> None:
    for status in (200, 503):
        error = outcome_of(CALLS[name], answer(status, DEEP, {}))
        check_typed(error, status, DEEP, None)
        assert error is not None


# -- the size cap, over real HTTP ----------------------------------------------------------------

CAP = 64 * 1024


async def _endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    chunk = b"[" + b"0," * 32 * 1024
    try:
        while True:  # an endless body: only the client can end it
            await response.write(chunk)
    except (ConnectionError, RuntimeError):
        pass
    return response


async def _declared_huge(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "application/json", "Content-Length": str(CAP * 1000)}
    )
    await response.prepare(request)
    await response.write(b"{")
    return response


async def _gzip_bomb(request: web.Request) -> web.Response:
    inflated = b'{"pad": "' + b"a" * (CAP * 64) + b'"}'
    return web.Response(
        body=gzip.compress(inflated),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


async def _small_gzip(request: web.Request) -> web.Response:
    body = (FIXTURES / "deployment.json").read_bytes()
    return web.Response(
        body=gzip.compress(body),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


@pytest.fixture
async def hostile_server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/api/deployments/dep_endless", _endless)
    app.router.add_get("/api/deployments/dep_declared", _declared_huge)
    app.router.add_get("/api/deployments/dep_bomb", _gzip_bomb)
    app.router.add_get(f"/api/deployments/{DEP}", _small_gzip)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/api"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("dep", ["dep_endless", "dep_declared", "dep_bomb"])
async def test_bodies_over_the_cap_are_refused_not_buffered(hostile_server: str, dep: str) -> None:
    async with QoderClient(
        "pt-prop", base_url=hostile_server, limits=Limits(max_response_bytes=CAP), retry=3
    ) as client:
        with pytest.raises(ResponseDecodeError, match=f"{CAP}-byte cap") as info:
            async with asyncio.timeout(CALL_TIMEOUT):
                await client.deployments.get(dep)
    assert info.value.status == 200


async def test_a_compressed_body_within_the_cap_still_decodes(hostile_server: str) -> None:
    async with QoderClient(
        "pt-prop", base_url=hostile_server, limits=Limits(max_response_bytes=CAP)
    ) as client:
        deployment = await client.deployments.get(DEP)
    assert deployment.id == DEP
