"""Per-call options, what errors carry, the User-Agent, and honest list walks."""

from __future__ import annotations

import json
import platform
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import qoder_async
from qoder_async import (
    Deployment,
    NotFoundError,
    PaginationError,
    QoderClient,
    QoderConfigError,
    QoderError,
    ResponseDecodeError,
    RetryPolicy,
    Timeouts,
)
from qoder_async._messages import Request, Response
from qoder_async.transport import MockTransport

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.example/api/v1/cloud"
DEP = "dep_019ec556114c78f8b60ee34fcb98bf59"
TOKEN = "pt-options-test-token-123"
DEPLOYMENT = json.loads((FIXTURES / "deployment.json").read_text())


async def no_sleep(seconds: float) -> None:
    return None


def make_client(
    handler: Callable[[Request], Response], **kwargs: Any
) -> tuple[QoderClient, MockTransport]:
    transport = MockTransport(handler)
    client = QoderClient(TOKEN, base_url=BASE, transport=transport, sleep=no_sleep, **kwargs)
    return client, transport


def answering(body: Any, status: int = 200, **headers: str) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        return MockTransport.respond(request, status, json_body=body, headers=headers)

    return handler


# Per-call options.


async def test_extra_headers_query_and_body_are_merged_last() -> None:
    client, transport = make_client(answering(DEPLOYMENT))
    async with client:
        await client.deployments.pause(
            DEP,
            extra_headers={"X-Trace": "t-1", "Idempotency-Key": "mine"},
            extra_query={"dry_run": "true"},
            extra_body={"reason": "maintenance"},
        )
    sent = transport.requests[0]
    assert sent.header("X-Trace") == "t-1"
    assert sent.header("Idempotency-Key") == "mine"
    assert sent.params == {"dry_run": "true"}
    assert json.loads(sent.content or b"") == {"reason": "maintenance"}


async def test_extra_query_is_sent_with_every_page() -> None:
    pages = [
        {"data": [{**DEPLOYMENT, "id": DEP}], "first_id": DEP, "last_id": DEP, "has_more": True},
        {"data": [], "first_id": None, "last_id": None, "has_more": False},
    ]

    def handler(request: Request) -> Response:
        return MockTransport.respond(request, json_body=pages[len(transport.requests) - 1])

    client, transport = make_client(handler)
    async with client:
        found = [d.id async for d in client.deployments.list(limit=1, extra_query={"x": "1"})]
    assert found == [DEP]
    assert [r.params for r in transport.requests] == [
        {"limit": "1", "x": "1"},
        {"limit": "1", "x": "1", "after_id": DEP},
    ]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"extra_headers": {"X-Bad": "a\r\nb"}}, ValueError, "extra_headers"),
        ({"extra_headers": {"bad name": "v"}}, ValueError, "header name"),
        ({"extra_headers": {1: "v"}}, TypeError, "keys must be str"),
        ({"extra_headers": {"X-N": 1}}, TypeError, "extra_headers"),
        ({"extra_query": {"n": 1}}, TypeError, "extra_query"),
        ({"extra_query": [("n", "1")]}, TypeError, "mapping"),
        ({"timeout": -1}, ValueError, "timeout"),
        ({"timeout": True}, TypeError, "timeout"),
        ({"timeout": "5"}, TypeError, "timeout"),
    ],
)
async def test_bad_options_are_refused_before_sending(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    client, transport = make_client(answering(DEPLOYMENT))
    async with client:
        with pytest.raises(error, match=match):
            await client.deployments.get(DEP, **options)
    assert transport.requests == []


async def test_extra_body_keys_must_be_str() -> None:
    client, transport = make_client(answering(DEPLOYMENT))
    async with client:
        with pytest.raises(TypeError, match="extra_body keys must be str"):
            await client.deployments.archive(DEP, extra_body={1: "x"})  # type: ignore[dict-item]
    assert transport.requests == []


async def test_reads_take_no_extra_body() -> None:
    client, _ = make_client(answering(DEPLOYMENT))
    async with client:
        with pytest.raises(TypeError, match="extra_body"):
            await client.deployments.get(DEP, extra_body={"a": 1})  # type: ignore[call-arg]


async def test_a_credential_in_extra_headers_is_masked_in_reprs() -> None:
    client, transport = make_client(answering(DEPLOYMENT))
    async with client:
        await client.deployments.get(DEP, extra_headers={"X-Api-Key": "sk-secret-1"})
    assert transport.requests[0].header("X-Api-Key") == "sk-secret-1"
    assert "sk-secret-1" not in repr(transport.requests[0])


async def test_timeouts_travel_on_the_request() -> None:
    client, transport = make_client(answering(DEPLOYMENT), timeout=Timeouts(read=7.0))
    async with client:
        await client.deployments.get(DEP)
        await client.deployments.get(DEP, timeout=2.5)
        await client.with_options(timeout=Timeouts(connect=1.0)).deployments.get(DEP)
    carried = [r.timeout for r in transport.requests]
    assert carried == [
        Timeouts(read=7.0),
        Timeouts(read=7.0, total=2.5),  # seconds change only the attempt's total
        Timeouts(connect=1.0),
    ]


# with_options shares the client.


async def test_with_options_shares_the_transport_and_client_wide_state() -> None:
    client, transport = make_client(answering(DEPLOYMENT))
    client.shared_marker = object()  # type: ignore[attr-defined]  # stands for later state
    async with client:
        other = client.with_options(timeout=1.0)
        assert other.transport is client.transport
        assert other.shared_marker is client.shared_marker  # type: ignore[attr-defined]
        await other.aclose()  # the copy does not own the transport
        assert not transport.closed
        await other.deployments.get(DEP)


# What errors carry.


async def test_status_error_carries_headers_without_credentials() -> None:
    body = {"type": "error", "error": {"type": "not_found_error", "message": "no"}}
    handler = answering(
        body, 404, **{"x-request-id": "req_1", "Set-Cookie": "session=abc", "X-Extra": "1"}
    )
    client, _ = make_client(handler)
    async with client:
        with pytest.raises(NotFoundError) as info:
            await client.deployments.get(DEP)
    headers = {k.lower(): v for k, v in info.value.headers.items()}
    assert headers["x-request-id"] == "req_1"
    assert headers["x-extra"] == "1"
    assert "set-cookie" not in headers
    assert (info.value.attempts, info.value.maybe_applied) == (1, False)


async def test_a_write_whose_answer_does_not_fit_was_applied() -> None:
    client, _ = make_client(answering({"id": 5}))
    async with client:
        with pytest.raises(ResponseDecodeError) as info:
            await client.deployments.archive(DEP)
    assert info.value.attempts == 1
    assert info.value.maybe_applied is True


async def test_a_cut_off_body_is_retried_and_the_error_counts_attempts() -> None:
    def cut(request: Request) -> Response:
        return MockTransport.respond(request, 200, content=b'{"id": "dep_')

    policy = RetryPolicy(max_attempts=3, jitter=False)
    client, transport = make_client(cut, retry=policy)
    async with client:
        with pytest.raises(ResponseDecodeError) as info:
            await client.deployments.get(DEP)
    assert info.value.corrupt
    assert info.value.attempts == 3
    assert len(transport.requests) == 3


async def test_errors_keep_attempts_through_pickling() -> None:
    import pickle

    client, _ = make_client(answering({}, 503), retry=RetryPolicy(max_attempts=2, jitter=False))
    async with client:
        with pytest.raises(QoderError) as info:
            await client.deployments.archive(DEP)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.attempts, copy.maybe_applied) == (2, True)


def _frames_and_chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def test_a_rejected_token_is_in_no_frame_reachable_from_the_error() -> None:
    secret = "pt-super-secret-value-42"
    with pytest.raises(QoderConfigError) as info:
        QoderClient(secret + "\x00", base_url=BASE, transport=MockTransport(answering({})))
    package = str(Path(qoder_async.__file__).parent)
    checked = 0
    for error in _frames_and_chain(info.value):
        # The SDK's frames, rendered with their locals as pytest --showlocals or an
        # error tracker would (this test's own frame holds the secret on purpose).
        frames = [
            (frame, line)
            for frame, line in traceback.walk_tb(error.__traceback__)
            if frame.f_code.co_filename.startswith(package)
        ]
        summary = traceback.StackSummary.extract(iter(frames), capture_locals=True)
        assert secret not in "".join(summary.format())
        assert secret not in str(error)
        checked += len(frames)
    assert checked >= 1  # the client's own frame is there, without the token


# The User-Agent.


async def test_user_agent_names_versions() -> None:
    client, transport = make_client(answering(DEPLOYMENT))
    async with client:
        await client.deployments.get(DEP)
    expected = (
        f"qoder-async/{qoder_async.__version__} python/{platform.python_version()} "
        f"aiohttp/{aiohttp.__version__}"
    )
    assert transport.requests[0].header("User-Agent") == expected


# Honest list walks.


async def test_has_more_without_a_cursor_raises_naming_the_last_ids() -> None:
    ids = [f"dep_{n:032x}" for n in range(4)]
    page = {
        "data": [{**DEPLOYMENT, "id": i} for i in ids],
        "first_id": ids[0],
        "last_id": None,
        "has_more": True,
    }
    client, _ = make_client(answering(page))
    seen: list[str] = []

    async def walk() -> None:
        async for deployment in client.deployments.list():
            seen.append(deployment.id)

    async with client:
        with pytest.raises(PaginationError, match="no cursor") as info:
            await walk()
    assert seen == ids  # every item the server did send was yielded first
    assert ids[-1] in str(info.value)
    assert isinstance(info.value, QoderError)


async def test_first_page_alone_does_not_raise() -> None:
    page = {"data": [DEPLOYMENT], "first_id": DEP, "last_id": None, "has_more": True}
    client, _ = make_client(answering(page))
    async with client:
        first = await client.deployments.list().first_page()
    assert isinstance(first.data[0], Deployment)
