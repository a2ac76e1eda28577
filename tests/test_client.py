"""QoderClient and its resources over MockTransport: requests built, answers decoded."""

from __future__ import annotations

import gc
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qoder_async import (
    ConflictError,
    Deployment,
    NotFoundError,
    PaginationError,
    QoderClient,
    QoderConfigError,
    ResponseDecodeError,
    RetryPolicy,
)
from qoder_async._messages import Request, Response
from qoder_async.middleware import Handler
from qoder_async.transport import MockTransport

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.example/api/v1/cloud"
DEP = "dep_019ec556114c78f8b60ee34fcb98bf59"
RUN = "drun_019ec55a68af73028afa5b87931cb2f3"
TOKEN = "pt-client-test-token-123"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def answering(body: Any, status: int = 200) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        return MockTransport.respond(
            request, status, json_body=body, headers={"x-request-id": "req_test"}
        )

    return handler


async def no_sleep(seconds: float) -> None:
    return None


def make_client(
    handler: Callable[[Request], Response], **kwargs: Any
) -> tuple[QoderClient, MockTransport]:
    transport = MockTransport(handler)
    client = QoderClient(TOKEN, base_url=BASE, transport=transport, sleep=no_sleep, **kwargs)
    return client, transport


async def test_get_sends_bearer_token_and_decodes_fixture() -> None:
    client, transport = make_client(answering(fixture("deployment.json")))
    async with client:
        deployment = await client.deployments.get(DEP)
    assert isinstance(deployment, Deployment)
    assert deployment.id == DEP
    assert deployment.is_archived is False
    (request,) = transport.requests
    assert request.method == "GET"
    assert request.url == f"{BASE}/deployments/{DEP}"
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    assert request.header(
        "User-Agent",
    ).startswith("qoder-async")  # type: ignore[union-attr]
    assert request.header("Idempotency-Key") is None


@pytest.mark.parametrize("action", ["pause", "unpause", "archive"])
async def test_state_actions_post_with_idempotency_key(action: str) -> None:
    client, transport = make_client(answering(fixture("deployment_archived.json")))
    async with client:
        result = await getattr(client.deployments, action)(DEP)
    assert isinstance(result, Deployment)
    (request,) = transport.requests
    assert request.method == "POST"
    assert request.url == f"{BASE}/deployments/{DEP}/{action}"
    assert request.header("Idempotency-Key")
    assert request.header("Content-Type") == "application/json"


async def test_archive_result_is_archived_though_status_stays_active() -> None:
    client, _ = make_client(answering(fixture("deployment_archived.json")))
    async with client:
        archived = await client.deployments.archive(DEP)
    assert archived.is_archived
    assert archived.status == "active"
    assert archived.name.endswith("_archived_1781427523")


async def test_run_returns_a_run() -> None:
    client, transport = make_client(answering(fixture("deployment_run_running.json")))
    async with client:
        run = await client.deployments.run(DEP, idempotency_key="run-once-42")
    assert run.status == "running"
    assert transport.requests[0].header("Idempotency-Key") == "run-once-42"
    assert transport.requests[0].url.endswith("/run")


async def test_create_sends_the_documented_body() -> None:
    client, transport = make_client(answering(fixture("deployment.json")))
    request_body = fixture("create_request_cron.json")
    async with client:
        await client.deployments.create(
            name=request_body["name"],
            agent=request_body["agent"],
            environment_id=request_body["environment_id"],
            schedule=request_body["schedule"],
            initial_events=request_body["initial_events"],
        )
    sent = json.loads(transport.requests[0].content or b"")
    assert sent["name"] == "daily-report"
    assert sent["agent"] == "agent_xxx"
    assert sent["schedule"] == request_body["schedule"]
    assert sent["initial_events"] == request_body["initial_events"]


async def test_update_sends_only_given_fields() -> None:
    client, transport = make_client(answering(fixture("deployment_paused.json")))
    update = fixture("update_request.json")
    async with client:
        await client.deployments.update(DEP, name=update["name"], schedule=update["schedule"])
    sent = json.loads(transport.requests[0].content or b"")
    assert sent == update
    assert transport.requests[0].url == f"{BASE}/deployments/{DEP}"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.deployments.get("../etc/passwd"),
        lambda c: c.deployments.get("dep_abc/archive"),
        lambda c: c.deployments.archive("dep_abc?x=1"),
        lambda c: c.deployments.archive(""),
        lambda c: c.deployment_runs.get("dep_abc"),
        lambda c: c.deployments.runs.get(DEP, "drun_%2F"),
        lambda c: c.deployments.create(
            name="x" * 257,
            agent="agent_a",
            environment_id="env_a",
            initial_events=[{"type": "user.message", "content": "hi"}],
        ),
        lambda c: c.deployments.create(
            name="ok",
            agent="agent_a",
            environment_id="env_a",
            initial_events=[],
        ),
    ],
)
async def test_bad_arguments_raise_before_anything_is_sent(call: Any) -> None:
    client, transport = make_client(answering(fixture("deployment.json")))
    async with client:
        with pytest.raises((ValueError, TypeError)):
            await call(client)
    assert transport.requests == []


async def test_list_arguments_are_checked_when_list_is_called() -> None:
    client, transport = make_client(answering(fixture("list_page_empty.json")))
    async with client:
        with pytest.raises(ValueError, match="status"):
            client.deployments.list(status="archived")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="limit"):
            client.deployments.list(limit=0)
        with pytest.raises(TypeError, match="include_archived"):
            client.deployments.list(include_archived="true")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="mutually exclusive"):
            client.deployments.list(after_id=DEP, before_id=DEP)
    assert transport.requests == []


def paged(pages: dict[str | None, dict[str, Any]]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        cursor = (request.params or {}).get("after_id")
        return MockTransport.respond(request, json_body=pages[cursor])

    return handler


def page_of(ids: list[str], *, has_more: bool, next_page: str | None) -> dict[str, Any]:
    template = fixture("deployment.json")
    return {
        "data": [{**template, "id": i} for i in ids],
        "first_id": ids[0] if ids else None,
        "last_id": next_page,
        "has_more": has_more,
        "next_page": next_page,
    }


async def test_list_walks_pages_with_filters_and_stops() -> None:
    ids = [f"dep_{n:032x}" for n in range(5)]
    pages: dict[str | None, dict[str, Any]] = {
        None: page_of(ids[:2], has_more=True, next_page=ids[1]),
        ids[1]: page_of(ids[2:4], has_more=True, next_page=ids[3]),
        ids[3]: page_of(ids[4:], has_more=False, next_page=None),
    }
    client, transport = make_client(paged(pages))
    async with client:
        seen = [
            d.id
            async for d in client.deployments.list(
                status="paused", include_archived=True, agent_id="agent_abc", limit=2
            )
        ]
    assert seen == ids
    first = transport.requests[0].params or {}
    assert first == {
        "limit": "2",
        "status": "paused",
        "include_archived": "true",
        "agent_id": "agent_abc",
    }
    assert [(r.params or {}).get("after_id") for r in transport.requests] == [None, ids[1], ids[3]]


async def test_cursor_comes_from_next_page_not_the_last_item() -> None:
    """The CN list example's last_id is not its last item's id: follow the cursor."""
    quirk = fixture("deployment_list_page.json")
    cursor = quirk["next_page"]
    pages: dict[str | None, dict[str, Any]] = {
        None: quirk,
        cursor: fixture("list_page_empty.json"),
    }
    client, transport = make_client(paged(pages))
    async with client:
        items = [d async for d in client.deployments.list()]
    assert len(items) == 1
    assert items[0].id != cursor
    assert (transport.requests[1].params or {})["after_id"] == cursor


async def test_repeated_cursor_is_refused_instead_of_looping() -> None:
    loop_page = page_of([f"dep_{1:032x}"], has_more=True, next_page=f"dep_{9:032x}")
    client, transport = make_client(lambda r: MockTransport.respond(r, json_body=loop_page))
    async with client:
        with pytest.raises(PaginationError):
            [d async for d in client.deployments.list()]
    assert len(transport.requests) == 2


async def test_first_page_and_resume_from_cursor() -> None:
    ids = [f"dep_{n:032x}" for n in range(3)]
    pages: dict[str | None, dict[str, Any]] = {
        ids[0]: page_of(ids[1:], has_more=False, next_page=None)
    }
    client, transport = make_client(paged(pages))
    async with client:
        page = await client.deployments.list(after_id=ids[0], limit=100).first_page()
    assert [d.id for d in page.data] == ids[1:]
    assert page.has_more is False
    assert transport.requests[0].params == {"limit": "100", "after_id": ids[0]}


async def test_runs_scoped_and_global() -> None:
    client, transport = make_client(answering(fixture("deployment_run_list_page.json")))
    async with client:
        scoped = [r async for r in client.deployments.runs.list(DEP, status="completed")]
        everywhere = [
            r
            async for r in client.deployment_runs.list(
                deployment_id=DEP, trigger_type="manual", has_error=False
            )
        ]
    assert [r.id for r in scoped] == [RUN] == [r.id for r in everywhere]
    assert transport.requests[0].url == f"{BASE}/deployments/{DEP}/runs"
    assert transport.requests[0].params == {"status": "completed"}
    assert transport.requests[1].url == f"{BASE}/deployment_runs"
    assert transport.requests[1].params == {
        "deployment_id": DEP,
        "trigger_type": "manual",
        "has_error": "false",
    }


async def test_get_runs() -> None:
    client, transport = make_client(answering(fixture("deployment_run.json")))
    async with client:
        one = await client.deployments.runs.get(DEP, RUN)
        two = await client.deployment_runs.get(RUN)
    assert one == two
    assert one.duration_ms == 17268
    assert transport.requests[0].url == f"{BASE}/deployments/{DEP}/runs/{RUN}"
    assert transport.requests[1].url == f"{BASE}/deployment_runs/{RUN}"


async def test_typed_errors_reach_the_caller() -> None:
    client, _ = make_client(answering(fixture("error_404.synthesized.json"), 404))
    async with client:
        with pytest.raises(NotFoundError) as info:
            await client.deployments.get(DEP)
    assert info.value.request_id == "req_test"
    client, _ = make_client(answering(fixture("error_409.synthesized.json"), 409))
    async with client:
        with pytest.raises(ConflictError):
            await client.deployments.archive(DEP)


async def test_success_with_a_body_that_is_not_a_deployment() -> None:
    client, _ = make_client(answering({"unexpected": True}))
    async with client:
        with pytest.raises(ResponseDecodeError) as info:
            await client.deployments.get(DEP)
    assert info.value.status == 200
    assert info.value.request_id == "req_test"
    assert "unexpected" in info.value.body

    client, _ = make_client(lambda r: MockTransport.respond(r, content=b"<html>oops</html>"))
    async with client:
        with pytest.raises(ResponseDecodeError, match="not valid JSON"):
            await client.deployments.get(DEP)


async def test_per_call_and_per_attempt_middleware_slots() -> None:
    calls: list[str] = []

    async def per_call(request: Request, call_next: Handler) -> Response:
        calls.append("call")
        return await call_next(request)

    async def per_attempt(request: Request, call_next: Handler) -> Response:
        calls.append(f"attempt auth={request.header('Authorization') is not None}")
        return await call_next(request)

    statuses = iter([503, 200])

    def flaky(request: Request) -> Response:
        status = next(statuses)
        body = fixture("deployment.json") if status == 200 else {}
        return MockTransport.respond(request, status, json_body=body)

    client, _ = make_client(flaky, middleware=[per_call], per_attempt_middleware=[per_attempt])
    async with client:
        await client.deployments.get(DEP)
    assert calls == ["call", "attempt auth=True", "attempt auth=True"]


async def test_async_token_provider_is_called_per_attempt() -> None:
    tokens = iter(["pt-first", "pt-second"])

    async def provider() -> str:
        return next(tokens)

    statuses = iter([401, 200])
    seen: list[str | None] = []

    def handler(request: Request) -> Response:
        seen.append(request.header("Authorization"))
        status = next(statuses)
        return MockTransport.respond(
            request, 503 if status == 401 else 200, json_body=fixture("deployment.json")
        )

    transport = MockTransport(handler)
    async with QoderClient(provider, base_url=BASE, transport=transport, sleep=no_sleep) as c:
        await c.deployments.get(DEP)
    assert seen == ["Bearer pt-first", "Bearer pt-second"]


async def test_with_options_overrides_retries_and_headers() -> None:
    client, transport = make_client(answering({}, 503))
    async with client:
        quick = client.with_options(retry=1, headers={"qoder-workspace-id": "ws_1"})
        with pytest.raises(Exception, match="503"):
            await quick.deployments.get(DEP)
        assert len(transport.requests) == 1
        assert transport.requests[0].header("qoder-workspace-id") == "ws_1"
        with pytest.raises(Exception, match="503"):
            await client.deployments.get(DEP)
        assert len(transport.requests) == 1 + RetryPolicy().max_attempts


def test_missing_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QODER_PAT", raising=False)
    with pytest.raises(QoderConfigError, match="QODER_PAT"):
        QoderClient(base_url=BASE)


async def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QODER_PAT", "pt-from-env")
    monkeypatch.setenv("QODER_BASE_URL", "https://cn.example/api/v1/cloud/")
    transport = MockTransport(answering(fixture("deployment.json")))
    async with QoderClient(transport=transport) as client:
        await client.deployments.get(DEP)
    assert transport.requests[0].header("Authorization") == "Bearer pt-from-env"
    assert transport.requests[0].url.startswith("https://cn.example/api/v1/cloud/deployments/")


def test_token_never_in_repr_or_config() -> None:
    client = QoderClient(TOKEN, base_url=BASE, transport=MockTransport(answering({})))
    for text in (repr(client), str(client), repr(client.config), repr(vars(client))):
        assert TOKEN not in text


def test_plain_http_only_to_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        QoderClient(TOKEN, base_url="http://api.example/api/v1/cloud")
    QoderClient(TOKEN, base_url="http://127.0.0.1:8080/api/v1/cloud")
    QoderClient(TOKEN, base_url="http://api.example/x", allow_insecure_http=True)


async def test_aclose_is_idempotent_and_leaves_given_transport_open() -> None:
    client, transport = make_client(answering({}))
    await client.aclose()
    await client.aclose()
    assert client.is_closed
    assert transport.closed is False


# The leaked aiohttp session warns too, through the unraisable hook: expected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_unclosed_client_warns_with_resource_warning() -> None:
    import asyncio

    from aioresponses import aioresponses

    async def use_and_forget() -> None:
        client = QoderClient(TOKEN, base_url=BASE)
        with aioresponses() as mocked:
            mocked.get(f"{BASE}/deployments/{DEP}", payload=fixture("deployment.json"))
            await client.deployments.get(DEP)
        del client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(use_and_forget())
        gc.collect()
    assert any(
        issubclass(w.category, ResourceWarning) and "QoderClient" in str(w.message) for w in caught
    )
