"""Error decoding is a pure function: recorded bodies in, typed exceptions out."""

from __future__ import annotations

import email.utils
import json
import pickle
from pathlib import Path

import pytest

from qoder_async import errors
from qoder_async._messages import Request, Response

FIXTURES = Path(__file__).parent / "fixtures"
REQUEST = Request(method="GET", url="https://api.example/api/v1/cloud/deployments")


def response(status: int, content: bytes = b"", **headers: str) -> Response:
    return Response(status=status, headers=headers, content=content, request=REQUEST)


def headers_only(status: int, headers: dict[str, str]) -> Response:
    return Response(status=status, headers=headers, content=b"", request=REQUEST)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_documented_400_body_maps_to_bad_request_with_param() -> None:
    error = errors.decode_error(response(400, fixture_bytes("error_400.json")))
    assert type(error) is errors.BadRequestError
    assert error.status == 400
    assert error.error_type == "invalid_request_error"
    assert error.message == "Missing required field: name"
    assert error.param == "name"
    assert "param: name" in str(error)


def test_documented_401_body_maps_to_authentication_error() -> None:
    error = errors.decode_error(response(401, fixture_bytes("error_401.json")))
    assert type(error) is errors.AuthenticationError
    assert error.error_type == "authentication_error"
    assert error.param is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (422, errors.UnprocessableEntityError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (501, errors.FeatureNotAvailableError),
        (502, errors.InternalServerError),
        (503, errors.InternalServerError),
        (504, errors.InternalServerError),
        (418, errors.APIStatusError),
        (302, errors.UnexpectedRedirectError),
    ],
)
def test_every_status_has_its_class(status: int, cls: type[errors.APIStatusError]) -> None:
    body = json.dumps({"type": "error", "error": {"type": "x_error", "message": "m"}}).encode()
    error = errors.decode_error(response(status, body))
    assert type(error) is cls
    assert isinstance(error, errors.APIStatusError)
    assert isinstance(error, errors.QoderError)
    assert error.status == status


def test_synthesized_404_and_409_bodies() -> None:
    not_found = errors.decode_error(response(404, fixture_bytes("error_404.synthesized.json")))
    assert isinstance(not_found, errors.NotFoundError)
    assert not_found.error_type == "not_found_error"
    conflict = errors.decode_error(response(409, fixture_bytes("error_409.synthesized.json")))
    assert isinstance(conflict, errors.ConflictError)
    assert "Idempotency key reused" in conflict.message


def test_html_gateway_page_becomes_typed_error_with_snippet() -> None:
    html = b"<html><body><h1>503 Service Temporarily Unavailable</h1>" + b"x" * 1000 + b"</html>"
    error = errors.decode_error(response(503, html, **{"Content-Type": "text/html"}))
    assert isinstance(error, errors.InternalServerError)
    assert error.error_type is None
    assert "text/html" in error.message
    assert error.body.startswith("<html><body><h1>503")
    assert len(error.body) <= 201


def test_empty_body_and_truncated_json() -> None:
    empty = errors.decode_error(response(503))
    assert isinstance(empty, errors.InternalServerError)
    assert "empty body" in empty.message
    truncated = errors.decode_error(response(500, b'{"type":"error","error":{"type":"api_'))
    assert isinstance(truncated, errors.InternalServerError)
    assert truncated.body == '{"type":"error","error":{"type":"api_'


def test_json_that_is_not_an_envelope() -> None:
    error = errors.decode_error(response(400, b'["a list"]'))
    assert isinstance(error, errors.BadRequestError)
    assert error.error_type is None


def test_501_mentions_feature_and_beta() -> None:
    body = {
        "type": "error",
        "error": {
            "type": "feature_not_available",
            "message": "Browser use needs activation",
            "feature": "browser_use",
            "available_from": "browser-use-2026-07-14",
        },
    }
    error = errors.decode_error(response(501, json.dumps(body).encode()))
    assert isinstance(error, errors.FeatureNotAvailableError)
    assert "browser-use-2026-07-14" in error.message


def test_request_id_header_then_body() -> None:
    body = b'{"type":"error","error":{"type":"api_error","message":"boom"},"request_id":"req_b"}'
    assert errors.decode_error(response(500, body, **{"X-Request-Id": "req_h"})).request_id == (
        "req_h"
    )
    assert errors.decode_error(response(500, body, **{"request-id": "req_2"})).request_id == (
        "req_2"
    )
    assert errors.decode_error(response(500, body)).request_id == "req_b"


def test_retry_after_seconds_http_date_and_ms() -> None:
    assert errors.decode_error(headers_only(429, {"Retry-After": "7"})).retry_after == 7.0
    assert errors.decode_error(headers_only(429, {"retry-after-ms": "250"})).retry_after == 0.25
    when = email.utils.formatdate(1_000_030, usegmt=True)
    assert errors.parse_retry_after({"Retry-After": when}, now=1_000_000) == pytest.approx(30)
    assert errors.parse_retry_after({"Retry-After": "soon"}) is None
    assert errors.parse_retry_after({"Retry-After": "-3"}) is None
    assert errors.parse_retry_after({}) is None


def test_redirect_names_its_location() -> None:
    error = errors.decode_error(response(307, b"", Location="https://elsewhere.example/x"))
    assert isinstance(error, errors.UnexpectedRedirectError)
    assert "https://elsewhere.example/x" in str(error)


def test_errors_survive_pickling() -> None:
    original = errors.decode_error(response(409, fixture_bytes("error_409.synthesized.json")))
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is errors.ConflictError
    assert (copy.status, copy.message, copy.error_type) == (409, original.message, "conflict_error")
    conn = pickle.loads(pickle.dumps(errors.APITimeoutError("slow", maybe_sent=False)))
    assert type(conn) is errors.APITimeoutError
    assert conn.maybe_sent is False
