"""The SDK's exceptions and the pure function that decodes an error response.

Everything the SDK raises on purpose descends from ``QoderError``::

    QoderError
    ├── InvalidArgumentError        a bad argument, refused before anything is sent (a ValueError)
    │   └── InvalidArgumentTypeError    an argument of the wrong type (also a TypeError)
    ├── APIConnectionError          no usable response (connect failed, reset, ...)
    │   └── APITimeoutError         the attempt or the call ran out of time
    ├── APIStatusError              the API answered with a non-2xx status
    │   ├── BadRequestError             400 invalid_request_error
    │   ├── AuthenticationError         401 authentication_error
    │   ├── PermissionDeniedError       403 permission_error
    │   ├── NotFoundError               404 not_found_error
    │   ├── ConflictError               409 conflict_error
    │   ├── UnprocessableEntityError    422
    │   ├── RateLimitError              429
    │   ├── InternalServerError         5xx (but 501)
    │   ├── FeatureNotAvailableError    501 feature_not_available
    │   └── UnexpectedRedirectError     3xx (redirects are never followed)
    ├── ResponseDecodeError         a 2xx whose body does not fit the expected model
    └── PaginationError             the server's cursors cannot continue a list walk

Every error that comes out of a call says how the call went: ``attempts`` (how many
attempts were made) and ``maybe_applied`` (a write of which some attempt may have
reached the server: verify before acting as if it did not happen).

Bad arguments are caught before anything is sent and raise ``InvalidArgumentError``
(also a ``ValueError``) or ``InvalidArgumentTypeError`` (also a ``TypeError``), whose
message starts with the parameter's name; ``QoderConfigError`` is both a ``QoderError``
and a ``ValueError``.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from qoder_async import _json
from qoder_async._messages import Request, Response
from qoder_async._redaction import SENSITIVE_HEADERS

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "FeatureNotAvailableError",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "QoderConfigError",
    "QoderError",
    "RateLimitError",
    "ResponseDecodeError",
    "UnexpectedRedirectError",
    "UnprocessableEntityError",
    "decode_error",
    "parse_retry_after",
    "request_id_of",
    "response_decode_error",
]

_SNIPPET_CHARS = 200


class QoderError(Exception):
    """Root of every exception the SDK raises on purpose.

    Attributes:
        attempts: How many attempts the call made before this error (0 when it was
            raised before anything was sent, e.g. a bad argument).
        maybe_applied: True when the call was a write and at least one attempt may
            have reached the server (a lost answer, a timeout after sending, a 5xx, a
            cut-off 2xx): the change may have happened even though the call failed,
            so read the resource before repeating or undoing it. Always False for reads.
    """

    attempts: int = 0
    maybe_applied: bool = False

    def _outcome_state(self) -> dict[str, Any]:
        # Pickled beside the constructor arguments (see the subclasses' __reduce__).
        return {"attempts": self.attempts, "maybe_applied": self.maybe_applied}


class QoderConfigError(QoderError, ValueError):
    """The client is configured in a way that cannot work (missing token, bad URL, ...)."""


class InvalidArgumentError(QoderError, ValueError):
    """An argument was refused before anything was sent; the message starts with its name.

    A ``ValueError`` too, so ``except ValueError`` written before this class existed
    keeps working, while ``except QoderError`` catches everything the SDK raises.
    """


class InvalidArgumentTypeError(InvalidArgumentError, TypeError):
    """An argument of the wrong type (a ``str`` where an ``int`` belongs, ...).

    Also a ``TypeError``, which is what such a mistake raised before.
    """


class APIConnectionError(QoderError):
    """No usable response arrived.

    ``maybe_sent`` tells whether the request may have reached the server: ``False`` when
    the connection could not even be opened (always safe to retry), ``True`` when it
    failed after the request was written (a retry could apply a change twice unless the
    request is idempotent).
    """

    def __init__(
        self, message: str, *, request: Request | None = None, maybe_sent: bool = True
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.maybe_sent = maybe_sent

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (type(self), (self.message,), {"maybe_sent": self.maybe_sent}),
            self._outcome_state(),
        )


class APITimeoutError(APIConnectionError):
    """The attempt, or the whole call's deadline, ran out of time."""


class APIStatusError(QoderError):
    """The API answered with a status outside 2xx.

    Attributes:
        status: HTTP status code.
        error_type: ``error.type`` from the envelope (``None`` when the body was not one).
        message: ``error.message``, or a description of the non-envelope body.
        param: ``error.param`` when the API named the offending field.
        request_id: From ``x-request-id`` / ``request-id`` or the body's ``request_id``.
        retry_after: Seconds the server asked us to wait, when it said so.
        body: A short snippet of the raw body (at most 200 characters).
        headers: The response headers, without any credential-bearing one
            (``Set-Cookie`` and the like are dropped).
    """

    # What ``headers`` reads where an instance has none of its own: a bulk outcome's
    # error drops its copy to stay small (``bulk._report.lean_error``).
    headers: Mapping[str, str] = MappingProxyType({})

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: str = "",
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body
        self.code = code
        self.headers = safe_headers(headers) if headers else {}

    def __str__(self) -> str:
        parts = [f"{self.status}"]
        if self.error_type:
            parts.append(self.error_type)
        text = f"{' '.join(parts)}: {self.message}"
        if self.param:
            text += f" (param: {self.param})"
        if self.request_id:
            text += f" [request_id: {self.request_id}]"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {
            "status": self.status,
            "error_type": self.error_type,
            "param": self.param,
            "request_id": self.request_id,
            "retry_after": self.retry_after,
            "body": self.body,
            "code": self.code,
            "headers": dict(self.headers),
        }
        return (_rebuild, (type(self), (self.message,), kwargs), self._outcome_state())


class BadRequestError(APIStatusError):
    """400: the request was malformed or failed validation."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, invalid, expired or revoked."""


class PermissionDeniedError(APIStatusError):
    """403: the token is valid but may not do this."""


class NotFoundError(APIStatusError):
    """404: the deployment or run does not exist."""


class ConflictError(APIStatusError):
    """409: the state forbids it (already paused/archived, ...) or a reused idempotency key."""


class UnprocessableEntityError(APIStatusError):
    """422: the API understood the request but refused it."""


class RateLimitError(APIStatusError):
    """429: the gateway is throttling; ``retry_after`` says for how long when known."""


class InternalServerError(APIStatusError):
    """5xx (other than 501): the API or its gateway failed."""


class FeatureNotAvailableError(APIStatusError):
    """501: the feature needs activation (``feature`` / ``available_from`` in the body)."""


class UnexpectedRedirectError(APIStatusError):
    """3xx: the SDK never follows redirects, so the token is never sent elsewhere."""


class ResponseDecodeError(QoderError):
    """A 2xx response whose body is not what the endpoint returns.

    ``corrupt`` is true when the body is not JSON at all (cut off, an HTML page from a
    proxy, empty): a failed transfer rather than an API change, so the retry layer
    treats it like a lost response and retries it when the request is idempotent.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        body: str = "",
        corrupt: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.body = body
        self.corrupt = corrupt

    def __str__(self) -> str:
        text = f"{self.message} (status {self.status}"
        if self.request_id:
            text += f", request_id {self.request_id}"
        return text + f", body: {self.body!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {
            "status": self.status,
            "request_id": self.request_id,
            "body": self.body,
            "corrupt": self.corrupt,
        }
        return (_rebuild, (type(self), (self.message,), kwargs), self._outcome_state())


class PaginationError(QoderError):
    """The server's cursors cannot continue the walk: a cursor came back twice (an
    endless loop), or a page said ``has_more`` without a cursor to follow (the list
    would be cut short without notice). The message names the last ids seen."""


def _rebuild(cls: type[Exception], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Exception:
    return cls(*args, **kwargs)


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` without the credential-bearing ones, safe to keep on an error."""
    return {name: value for name, value in headers.items() if name.lower() not in SENSITIVE_HEADERS}


def response_decode_error(
    response: Response, reason: str, *, corrupt: bool = False
) -> ResponseDecodeError:
    """The one constructor of ``ResponseDecodeError`` for a response's body.

    ``corrupt`` marks a body that is not JSON at all (a failed transfer, retried like a
    lost answer when that is safe) as opposed to JSON that does not fit the model.
    """
    return ResponseDecodeError(
        f"response body {reason}",
        status=response.status,
        request_id=request_id_of(response.headers),
        body=snippet(response.content),
        corrupt=corrupt,
    )


def parse_body(response: Response) -> Any:
    """The body of ``response`` as JSON, or a corrupt ``ResponseDecodeError``.

    The one JSON parse of a response, success or error (orjson when installed).
    """
    try:
        return _json.loads(response.content)
    except ValueError:
        raise response_decode_error(response, "is not valid JSON", corrupt=True) from None
    except RecursionError:
        # The stdlib parser (used without orjson) recurses once per nesting level.
        raise response_decode_error(response, "is nested too deeply", corrupt=True) from None


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    501: FeatureNotAvailableError,
}


def error_class_for(status: int) -> type[APIStatusError]:
    """The exception class that stands for ``status``."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls
    if status >= 500:
        return InternalServerError
    if 300 <= status < 400:
        return UnexpectedRedirectError
    return APIStatusError


def snippet(content: bytes, limit: int = _SNIPPET_CHARS) -> str:
    """A short, printable prefix of a body for error messages."""
    text = content[: limit * 4].decode("utf-8", errors="replace")
    if len(text) > limit:
        return text[:limit] + "…"
    return text


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items() if k.lower() in _RETRY_HEADERS}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0 and value == value:  # rejects NaN
            return value
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    if seconds != seconds or seconds < 0:  # NaN or negative: ignore
        return None
    return seconds


_RETRY_HEADERS = frozenset({"retry-after", "retry-after-ms"})


def request_id_of(headers: Mapping[str, str], body: Any = None) -> str | None:
    """The request id from ``x-request-id`` / ``request-id``, else a body ``request_id``."""
    for name in ("x-request-id", "request-id"):
        for key, value in headers.items():
            if key.lower() == name:
                return value
    if isinstance(body, dict):
        found = body.get("request_id")
        if isinstance(found, str):
            return found
    return None


def decode_error(response: Response) -> APIStatusError:
    """Turn a non-2xx response into the matching typed exception.

    Works on any body: the documented envelope, HTML from a gateway, an empty 503 or
    truncated JSON all become an ``APIStatusError`` subclass with a useful message.
    """
    status = response.status
    content = response.content
    parsed: Any = None
    if content:
        try:
            parsed = parse_body(response)
        except ResponseDecodeError:
            parsed = None  # not an envelope: described from its content type below
    error_type = param = code = None
    message: str
    envelope = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(envelope, dict):
        error_type = _str_or_none(envelope.get("type"))
        message = _str_or_none(envelope.get("message")) or "(no message)"
        param = _str_or_none(envelope.get("param"))
        code = _str_or_none(envelope.get("code"))
        feature = _str_or_none(envelope.get("feature"))
        if feature:
            message += f" (feature: {feature}"
            available = _str_or_none(envelope.get("available_from"))
            message += f", available_from: {available})" if available else ")"
    elif not content:
        message = f"HTTP {status} with an empty body"
    else:
        content_type = response.header("content-type") or "unknown content type"
        message = f"HTTP {status} with a body that is not an API error ({content_type})"
    if 300 <= status < 400:
        location = response.header("location")
        message = f"HTTP {status} redirect to {location!r} was not followed"
    return error_class_for(status)(
        message,
        status=status,
        error_type=error_type,
        param=param,
        request_id=request_id_of(response.headers, parsed),
        retry_after=parse_retry_after(response.headers),
        body=snippet(content),
        code=code,
        headers=response.headers,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
