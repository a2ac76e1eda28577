"""Bad arguments raise one exception family: a ``QoderError`` that is also the builtin
``ValueError`` / ``TypeError`` it replaced, with the parameter's name first."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from qoder_async import (
    ClientConfig,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    MockTransport,
    QoderClient,
    QoderError,
    Request,
    Response,
    RetryPolicy,
    SecretToken,
    Timeouts,
)
from qoder_async._schedule_rules import cron_expression, time_zone
from qoder_async._validation import build_create_body, build_update_body, deployment_id


def _unreachable(request: Request) -> Response:
    raise AssertionError(f"nothing should be sent, got {request.method} {request.url}")


def _client() -> QoderClient:
    return QoderClient("pt-test", transport=MockTransport(_unreachable))


def _list(**kwargs: Any) -> None:
    _client().deployments.list(**kwargs)


def _runs(**kwargs: Any) -> None:
    _client().deployment_runs.list(**kwargs)


GOOD = {
    "name": "n",
    "agent": "agent_1",
    "environment_id": "env_1",
    "initial_events": [{"type": "user.message", "content": "hi"}],
}

# (call, builtin it must still be, the parameter name the message starts with)
BAD_VALUES: list[tuple[Callable[[], Any], type[Exception], str]] = [
    (lambda: deployment_id("dep_../x"), ValueError, "deployment_id"),
    (lambda: deployment_id(7), TypeError, "deployment_id"),
    (lambda: build_create_body(**{**GOOD, "name": "x" * 300}), ValueError, "name"),
    (lambda: build_create_body(**{**GOOD, "initial_events": "hi"}), TypeError, "initial_events"),
    (lambda: build_update_body(), ValueError, "update"),
    (lambda: cron_expression("* * *"), ValueError, "schedule.expression"),
    (lambda: cron_expression(5), TypeError, "schedule.expression"),
    (lambda: time_zone("Mars/Olympus"), ValueError, "schedule.timezone"),
    (lambda: build_create_body(**GOOD, schedule="daily"), TypeError, "schedule"),
    (lambda: _list(status="archivd"), ValueError, "status"),
    (lambda: _list(status=1), TypeError, "status"),
    (lambda: _list(limit=0), ValueError, "limit"),
    (lambda: _list(limit="5"), TypeError, "limit"),
    (lambda: _list(created_after="yesterday"), ValueError, "created_after"),
    (lambda: _list(created_after=5), TypeError, "created_after"),
    (lambda: _runs(trigger_type="cron"), ValueError, "trigger_type"),
    (lambda: _runs(has_error="no"), TypeError, "has_error"),
    (lambda: Timeouts(connect=-1), ValueError, "connect"),
    (lambda: RetryPolicy(max_attempts=0), ValueError, "max_attempts"),
    (lambda: SecretToken(""), ValueError, "token"),
    (lambda: SecretToken(42), TypeError, "token"),  # type: ignore[arg-type]
    (lambda: ClientConfig(base_url="ftp://example.com"), ValueError, "base_url"),
    (lambda: ClientConfig(base_url=3), TypeError, "base_url"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("call", "builtin", "param"), BAD_VALUES)
def test_one_except_catches_every_bad_argument(
    call: Callable[[], Any], builtin: type[Exception], param: str
) -> None:
    with pytest.raises(QoderError) as caught:
        call()
    error = caught.value
    assert isinstance(error, InvalidArgumentError)
    assert isinstance(error, builtin)  # what the SDK raised before: old handlers still work
    assert isinstance(error, InvalidArgumentTypeError) == (builtin is TypeError)
    assert str(error).startswith(param), str(error)


def test_the_classes_pickle_and_sit_under_qoder_error() -> None:
    error = InvalidArgumentTypeError("limit must be an int, not str")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is InvalidArgumentTypeError
    assert str(again) == "limit must be an int, not str"
    assert issubclass(InvalidArgumentTypeError, InvalidArgumentError)
    assert issubclass(InvalidArgumentError, QoderError)
    assert issubclass(InvalidArgumentError, ValueError)
