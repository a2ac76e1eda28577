"""What every resource shares: sending through the chain and decoding the answer."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from functools import update_wrapper
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar
from urllib.parse import quote

from qoder_async import _json, _serde
from qoder_async._messages import NOT_PARSED, Request, Response
from qoder_async._serde import DecodeFailure
from qoder_async.config import RetryPolicy, Timeouts
from qoder_async.errors import (
    InvalidArgumentError,
    ResponseDecodeError,
    parse_body,
    response_decode_error,
)
from qoder_async.middleware import Handler, Middleware
from qoder_async.resources._options import CallOptions

__all__ = ["CallOptions", "Derive", "Prepared", "ResourceContext", "sends"]

T = TypeVar("T")
S = TypeVar("S")
P = ParamSpec("P")

_PLAIN = re.compile(r"[A-Za-z0-9_]+")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Derive(Protocol):
    """Builds the context of a client derived with other options (``with_options``)."""

    def __call__(
        self,
        *,
        retry: RetryPolicy | int | None,
        timeout: Timeouts | float | None,
        per_attempt_middleware: Sequence[Middleware],
    ) -> ResourceContext: ...


class ResourceContext:
    """What resources send through: the base URL, the composed handler, the timeouts,
    and the decode mode.

    Args:
        base_url: The API root.
        handler: The client's middleware chain.
        derive: Given by the client: lets a resource offer ``with_options`` without
            knowing how the client builds its chain.
        timeouts: The client's ``Timeouts``, carried on every request (``None``: the
            transport's own).
        strict_responses: Whether a 2xx body that does not fit its model is an error
            (``True``) or kept raw and logged (``False``).
    """

    __slots__ = ("_structurers", "base_url", "derive", "handler", "strict_responses", "timeouts")

    def __init__(
        self,
        base_url: str,
        handler: Handler,
        derive: Derive | None = None,
        *,
        timeouts: Timeouts | None = None,
        strict_responses: bool = False,
    ) -> None:
        self.base_url = base_url
        self.handler = handler
        self.derive = derive
        self.timeouts = timeouts
        self.strict_responses = strict_responses
        self._structurers: dict[Any, Callable[[Any], Any]] = {}

    def structurer(self, model: type[T]) -> Callable[[Any], T]:
        """The decoder of ``model`` (e.g. ``Page[Deployment]``) in this client's mode."""
        found = self._structurers.get(model)
        if found is None:
            found = _serde.decoder(model, strict=self.strict_responses)
            self._structurers[model] = found
        return found

    def url(self, *segments: str) -> str:
        """``base_url`` joined with already-validated path segments, each URL-quoted."""
        # Validated ids are plain [a-z0-9_]; quoting is a cheap guard kept for any other.
        # When the segments run together are plain, each one is (or is empty, which
        # quotes to itself): one match for the whole path instead of one per segment.
        if _PLAIN.fullmatch("".join(segments)):
            return self.base_url + "/" + "/".join(segments)
        return self.base_url + "".join(
            "/" + (segment if _PLAIN.fullmatch(segment) else quote(segment, safe=""))
            for segment in segments
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        options: CallOptions | None = None,
    ) -> Request:
        """The request for one logical call, with the call's options merged last."""
        timeouts = self.timeouts
        if options is not None:
            timeouts = options.timeouts(timeouts)
            if options.headers:
                headers = {**headers, **options.headers} if headers else options.headers
            if options.query:
                params = {**params, **options.query} if params else options.query
            if options.body:
                body = {**body, **options.body} if isinstance(body, dict) else options.body
        # Positional: attrs' keyword construction costs more, and this runs per call.
        return Request(
            method,
            url,
            dict(headers) if headers else {},
            params,
            None if body is None else _json.dumps(body),
            timeouts,
        )

    def prepare(
        self,
        method: str,
        url: str,
        model: type[T],
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        options: CallOptions | None = None,
    ) -> Prepared[T]:
        """One call, built and validated but not sent: its request and how to decode it."""
        request = self.request(
            method, url, params=params, body=body, headers=headers, options=options
        )
        return Prepared(request, self.structurer(model), self.handler)

    async def call(
        self,
        method: str,
        url: str,
        structure: Callable[[Any], T],
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        options: CallOptions | None = None,
    ) -> T:
        """Send, then structure the 2xx body with ``structure`` or raise ``ResponseDecodeError``."""
        request = self.request(
            method, url, params=params, body=body, headers=headers, options=options
        )
        return decode(await self.handler(request), structure)


class Prepared(Generic[T]):
    """A built call: what a resource method sends, and how its 2xx body becomes a ``T``.

    A method is written once as a builder returning this; ``sends`` makes the normal
    method of it, and ``with_raw_response`` the raw one, so both validate alike.
    """

    __slots__ = ("handler", "request", "structure")

    def __init__(self, request: Request, structure: Callable[[Any], T], handler: Handler) -> None:
        self.request = request
        self.structure = structure
        self.handler = handler


def sends(
    build: Callable[Concatenate[S, P], Prepared[T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """The method that sends what ``build`` prepares and returns the decoded model."""

    async def method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        prepared = build(self, *args, **kwargs)
        return decode(await prepared.handler(prepared.request), prepared.structure)

    present_as(method, build, "{}")
    return method


def present_as(method: Callable[..., Any], build: Callable[..., Any], returns: str) -> None:
    """Give ``method`` the name, docstring and parameters of its builder, for ``help()``
    and ``inspect``, and the return type ``returns`` filled with the builder's model.

    Builders are named ``_<method>`` and return ``Prepared[<model>]``.
    """
    update_wrapper(method, build)
    method.__name__ = build.__name__.removeprefix("_")
    method.__qualname__ = build.__qualname__.replace("._", ".", 1)
    signature = inspect.signature(build)
    model = str(signature.return_annotation).removeprefix("Prepared[").removesuffix("]")
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        return_annotation=returns.format(model)
    )


def decode(response: Response, structure: Callable[[Any], T]) -> T:
    """Structure a success body; anything unexpected is a ``ResponseDecodeError``.

    The body was parsed inside the attempt by the chain's decoding step; only a chain
    without that step (a hand-built one) leaves it to be parsed here, the same way.
    """
    try:
        data = response.data
        if data is NOT_PARSED:
            data = parse_body(response)
        try:
            return structure(data)
        except DecodeFailure as exc:
            raise response_decode_error(response, f"does not fit the model: {exc}") from None
        except RecursionError:
            raise response_decode_error(response, "is nested too deeply") from None
    except ResponseDecodeError as error:
        # The call itself succeeded: a write's change was applied.
        error.attempts = response.attempts
        error.maybe_applied = response.request.method not in _SAFE_METHODS
        raise


def idempotency_headers(key: str | None) -> Mapping[str, str] | None:
    """Headers for a caller-chosen idempotency key (``None``: let the SDK mint one)."""
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > 255 or not key.isprintable():
        raise InvalidArgumentError("idempotency_key must be a printable str of 1 to 255 characters")
    return {"Idempotency-Key": key}
