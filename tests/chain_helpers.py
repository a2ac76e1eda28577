"""A client-shaped chain over MockTransport, for retry and middleware tests."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from qoder_async._messages import Request, Response
from qoder_async.config import RetryPolicy, SecretToken
from qoder_async.middleware import (
    AuthHeaders,
    Handler,
    Middleware,
    build_chain,
    decode_errors,
    idempotency_key,
)
from qoder_async.retry import RetryMiddleware
from qoder_async.transport import MockTransport

TOKEN = "pt-unit-test-token"
URL = "https://api.example/api/v1/cloud/deployments/dep_0123456789abcdef0123456789abcdef/archive"


class SleepRecorder:
    """Stands in for asyncio.sleep: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_chain(
    handler: Callable[[Request], Response | Awaitable[Response]],
    *,
    policy: RetryPolicy | None = None,
    keys: bool = True,
    per_attempt: tuple[Middleware, ...] = (),
) -> tuple[Handler, MockTransport, SleepRecorder]:
    transport = MockTransport(handler)
    sleeper = SleepRecorder()
    slots: list[Middleware] = [idempotency_key] if keys else []
    slots.append(RetryMiddleware(policy or RetryPolicy(jitter=False), sleep=sleeper))
    slots.append(AuthHeaders(SecretToken(TOKEN), user_agent="qoder-async/test"))
    slots.extend(per_attempt)
    slots.append(decode_errors)
    return build_chain(slots, transport.send), transport, sleeper


def post(url: str = URL, body: Any = None) -> Request:
    return Request(
        method="POST", url=url, content=json.dumps({} if body is None else body).encode()
    )


def get(url: str = URL) -> Request:
    return Request(method="GET", url=url)


def scripted(*answers: int | Exception | Response) -> Callable[[Request], Response]:
    """A handler answering each call with the next status code or raising the next error."""
    queue = list(answers)

    def handler(request: Request) -> Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, Response):
            return answer
        body = (
            {"ok": True}
            if answer < 400
            else {"type": "error", "error": {"type": "e", "message": "m"}}
        )
        return MockTransport.respond(request, answer, json_body=body)

    return handler
