"""The token never shows: a whole session of calls, failures included, scanned for it.

One session against the fake server at DEBUG logging (``QODER_LOG=debug`` plus a
handler of our own): successes, 401, 404, 409, retries under injected faults, a refused
connection, a timeout, a body that does not decode, a cancelled call, a bulk archive,
bad tokens and bad options at construction. Everything a user or a tool could print is
collected: every log record (message, formatted with its traceback, its attributes),
stderr, ``str``/``repr`` of every exception, its traceback with locals (the standard
library's and pytest's ``--showlocals`` rendering, causes included), its pickle, the
repr of the client, config, transport, middleware and every request, and the CLI's
output. The token must be in none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import json
import logging
import os
import pickle
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qoder_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    QoderClient,
    ResponseDecodeError,
    RetryPolicy,
    SecretToken,
)
from qoder_async._messages import Request
from qoder_async._redaction import SecretHeaderValue
from qoder_async.config import ClientConfig
from qoder_async.middleware import AuthHeaders
from qoder_async.testing import FakeQoderServer, Fault, FaultPlan
from qoder_async.transport import MockTransport
from tests.contrib_support import free_port

TOKEN = "pt-SECRET-9f8e7d6c5b4a"
WRONG_TOKEN = "pt-SECRET-0a1b2c3d4e5f"
SECRETS = (TOKEN, WRONG_TOKEN)
FAST = RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.005)
AGENT = "agent_019eb4d4a06d747c865d5800b9c57ae2"
ENV = "env_019e64e01a137caf953ac2ac7b42ec5c"
MISSING = "dep_0123456789abcdef0123456789abcdef"


class Evidence:
    """Everything printable gathered during the session, by where it came from."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.errors: list[BaseException] = []

    def add(self, label: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        self.texts.append((label, text))

    def error(self, label: str, exc: BaseException) -> None:
        self.errors.append(exc)
        self.add(f"{label}: str", str(exc))
        self.add(f"{label}: repr", repr(exc))
        self.add(f"{label}: vars", repr(vars(exc)))
        for attribute in ("request", "body", "args"):
            self.add(f"{label}: {attribute}", repr(getattr(exc, attribute, None)))
        stdlib = traceback.TracebackException.from_exception(exc, capture_locals=True)
        self.add(f"{label}: traceback with locals", "".join(stdlib.format()))
        self.add(f"{label}: print_exception", "".join(traceback.format_exception(exc)))
        if exc.__traceback__ is not None:  # bulk outcomes keep their errors without one
            shown = pytest.ExceptionInfo.from_exception(exc).getrepr(
                showlocals=True, style="long", chain=True
            )
            self.add(f"{label}: pytest --showlocals", str(shown))
        # Not picklable is fine; picklable must not carry the token.
        with contextlib.suppress(TypeError, AttributeError, pickle.PicklingError):
            self.add(f"{label}: pickle", pickle.dumps(exc))

    async def expect(
        self, label: str, kind: type[BaseException], call: Callable[[], Any]
    ) -> BaseException:
        with pytest.raises(kind) as info:
            await call()
        self.error(label, info.value)
        return info.value

    def leaks(self) -> list[str]:
        return [label for label, text in self.texts for secret in SECRETS if secret in text]


async def run_cli(server: FakeQoderServer, token: str, *args: str) -> str:
    env = dict(os.environ, QODER_PAT=token, QODER_BASE_URL=server.url, QODER_LOG="debug")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "qoder_async",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return f"exit {proc.returncode}\n{out.decode()}\n{err.decode()}"


async def the_session(server: FakeQoderServer, evidence: Evidence) -> None:
    (seeded, *to_archive) = server.seed_deployments(6)
    events = [{"type": "user.message", "content": "hello"}]

    async def provider() -> str:
        return TOKEN

    async with QoderClient(TOKEN, base_url=server.url, retry=FAST) as client:
        evidence.add("client repr", repr(client))
        evidence.add("config repr", repr(client.config))
        evidence.add("transport repr", repr(client.transport))
        evidence.add("transport vars", repr(vars(client.transport)))
        evidence.add("deployments repr", repr(client.deployments))

        # Successes on every endpoint.
        created = await client.deployments.create(
            name="secret-scan", agent=AGENT, environment_id=ENV, initial_events=events
        )
        evidence.add("deployment repr", repr(created))
        await client.deployments.get(created.id)
        await client.deployments.list(limit=2).to_list()
        await client.deployments.update(created.id, name="secret-scan-2")
        await client.deployments.pause(created.id)
        await client.deployments.unpause(created.id)
        run = await client.deployments.run(created.id)
        await client.deployments.runs.list(created.id).to_list()
        await client.deployments.runs.get(created.id, run.id)
        await client.deployment_runs.list(deployment_id=created.id).to_list()
        await client.deployment_runs.get(run.id)

        # 404 and 409.
        await evidence.expect("404", NotFoundError, lambda: client.deployments.get(MISSING))
        await client.deployments.pause(seeded)
        await evidence.expect("409", ConflictError, lambda: client.deployments.pause(seeded))

        # Retries under faults: every one of them is logged, then the call succeeds.
        server.faults = FaultPlan(
            script={
                "deployments.get": [
                    Fault.reset_before(),
                    Fault.unavailable(body="html"),
                    Fault.rate_limited(retry_after=0.001),
                ],
                "deployments.archive": [Fault.reset_after(), Fault.server_error()],
            }
        )
        await client.deployments.get(seeded)
        await client.deployments.archive(created.id)

        # A 2xx that is not a deployment, and one cut short (on every retry too).
        server.faults = FaultPlan(script={"deployments.get": [Fault.non_json()] * 20})
        await evidence.expect(
            "non-json", ResponseDecodeError, lambda: client.deployments.get(seeded)
        )
        server.faults = FaultPlan(script={"deployments.update": [Fault.truncated_json()] * 20})
        await evidence.expect(
            "truncated",
            ResponseDecodeError,
            lambda: client.deployments.update(seeded, name="cut", idempotency_key="k-trunc"),
        )

        # Retries that run out.
        server.faults = FaultPlan(script={"deployments.get": [Fault.reset_before()] * 12})
        await evidence.expect(
            "retries exhausted", APIConnectionError, lambda: client.deployments.get(seeded)
        )

        # A timeout, and a call cancelled while in flight.
        server.faults = FaultPlan(script={"deployments.get": [Fault.latency(2.0)]})
        quick = client.with_options(timeout=0.05, retry=1)
        await evidence.expect("timeout", APITimeoutError, lambda: quick.deployments.get(seeded))
        server.faults = FaultPlan(script={"deployments.get": [Fault.latency(2.0)]})
        gets = server.request_count("deployments.get")
        task = asyncio.create_task(client.deployments.get(seeded))
        # Cancelled once the server holds the request, so the call really is in flight.
        await server.wait_until(lambda: server.request_count("deployments.get") > gets)
        task.cancel()
        await evidence.expect("cancelled", asyncio.CancelledError, lambda: task)
        server.faults = None

        # Bulk archive with a throttled start and one id that does not exist.
        server.faults = FaultPlan(
            script={"deployments.archive": [Fault.rate_limited(retry_after=0.001)] * 2}
        )
        report = await client.deployments.bulk_archive([*to_archive, MISSING], retry=FAST)
        evidence.add("bulk report", repr(report))
        evidence.add("bulk outcomes", repr([o.as_dict() for o in report.outcomes.values()]))
        for outcome in report.outcomes.values():
            if outcome.error is not None:
                evidence.error(f"bulk {outcome.outcome}", outcome.error)
        server.faults = None

    # 401 with a wrong token, and a token provider.
    async with QoderClient(WRONG_TOKEN, base_url=server.url, retry=FAST) as stranger:
        await evidence.expect("401", AuthenticationError, lambda: stranger.deployments.get(seeded))
    async with QoderClient(provider, base_url=server.url, retry=FAST) as provided:
        await evidence.expect(
            "404 via a token provider", NotFoundError, lambda: provided.deployments.get(MISSING)
        )

    # Nothing listening.
    async with QoderClient(
        TOKEN, base_url=f"http://127.0.0.1:{free_port()}/api", retry=2
    ) as nowhere:
        await evidence.expect(
            "connection refused", APIConnectionError, lambda: nowhere.deployments.get(seeded)
        )


def construction_failures(evidence: Evidence) -> None:
    builds: dict[str, Callable[[], object]] = {
        "plain http elsewhere": lambda: QoderClient(TOKEN, base_url="http://example.com"),
        "bad retry": lambda: QoderClient(TOKEN, retry="many"),  # type: ignore[arg-type]
        "token with newline": lambda: QoderClient(TOKEN + "\nX-Evil: 1"),
        "token with nul": lambda: SecretToken(TOKEN + "\x00"),
        "token as bytes": lambda: QoderClient(TOKEN.encode()),  # type: ignore[arg-type]
    }
    for label, build in builds.items():
        with pytest.raises((ValueError, TypeError)) as info:
            build()
        evidence.error(f"construction: {label}", info.value)


async def requests_and_middleware(evidence: Evidence) -> None:
    deployment = json.loads((Path(__file__).parent / "fixtures" / "deployment.json").read_text())

    def answer(request: Request) -> Any:
        if request.url.endswith(MISSING):
            return MockTransport.respond(request, 404, json_body={"type": "error"})
        return MockTransport.respond(request, 200, json_body=deployment)

    transport = MockTransport(answer)
    async with QoderClient(
        TOKEN,
        base_url="https://api.example/api/v1/cloud",
        transport=transport,
        headers={"X-Api-Key": TOKEN, "Cookie": f"session={TOKEN}"},
    ) as client:
        await client.deployments.get(deployment["id"])
        await evidence.expect("mock 404", NotFoundError, lambda: client.deployments.get(MISSING))
    for request in transport.requests:
        evidence.add("request repr", repr(request))
        evidence.add("request str", str(request))
        evidence.add("request headers repr", repr(request.headers))
        with pytest.raises(TypeError):
            pickle.dumps(request)  # a SecretHeaderValue refuses to be pickled
    evidence.add("auth middleware", repr(AuthHeaders(SecretToken(TOKEN), user_agent="ua")))
    evidence.add("secret token", repr(SecretToken(TOKEN)) + str(SecretToken(TOKEN)))
    evidence.add("header value", repr(SecretHeaderValue(f"Bearer {TOKEN}")))
    evidence.add("config", repr(ClientConfig(default_headers={"X-Api-Key": TOKEN})))


async def test_the_token_appears_nowhere(
    sdk_logger: logging.Logger,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QODER_LOG", "debug")
    evidence = Evidence()
    stream = io.StringIO()
    async with FakeQoderServer(tokens=[TOKEN]) as server:
        # The first client applies QODER_LOG: a stderr handler at DEBUG.
        QoderClient(TOKEN, base_url=server.url)
        assert len(sdk_logger.handlers) == 1
        assert sdk_logger.level == logging.DEBUG
        own = logging.StreamHandler(stream)
        own.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        sdk_logger.addHandler(own)
        caplog.set_level(logging.DEBUG, logger="qoder_async")

        await the_session(server, evidence)
        construction_failures(evidence)
        await requests_and_middleware(evidence)

        if importlib.util.find_spec("qoder_async.cli") is not None:
            evidence.add("cli list", await run_cli(server, TOKEN, "deployments", "list", "--json"))
            evidence.add(
                "cli get 404", await run_cli(server, TOKEN, "-v", "deployments", "get", MISSING)
            )
            evidence.add("cli bad id", await run_cli(server, TOKEN, "deployments", "get", "../x"))
            evidence.add("cli 401", await run_cli(server, WRONG_TOKEN, "deployments", "list"))

    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    for record in caplog.records:
        evidence.add("log message", record.getMessage())
        evidence.add("log formatted", formatter.format(record))
        evidence.add("log record", repr(vars(record)))
    evidence.add("own handler", stream.getvalue())
    evidence.add("stderr (QODER_LOG)", capsys.readouterr().err)

    assert evidence.leaks() == []

    # The scan saw what it should have: real traffic, real failures, headers logged.
    kinds = {type(error).__name__ for error in evidence.errors}
    assert {
        "AuthenticationError",
        "NotFoundError",
        "ConflictError",
        "ResponseDecodeError",
        "APIConnectionError",
        "APITimeoutError",
        "CancelledError",
        "QoderConfigError",
    } <= kinds
    debug = stream.getvalue()
    assert "attempt=2" in debug
    assert "'Authorization': '[redacted]'" in debug
    assert "'X-Api-Key': '[redacted]'" in debug
    assert "retrying GET" in debug
