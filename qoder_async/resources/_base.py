"""What every resource shares: sending through the chain and decoding the answer."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from qoder_async import _json, _serde
from qoder_async._messages import NOT_PARSED, Request, Response
from qoder_async._serde import DecodeFailure
from qoder_async.config import RetryPolicy, Timeouts
from qoder_async.errors import (
    InvalidArgumentError,
    ResponseDecodeError,
    request_id_of,
    snippet,
)
from qoder_async.middleware import Handler, Middleware

__all__ = ["Derive", "ResourceContext"]

T = TypeVar("T")

_PLAIN = re.compile(r"[A-Za-z0-9_]+")


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
    """The base URL, the composed handler a resource sends through, and the decode mode.

    ``derive`` (given by the client) lets a resource offer ``with_options`` without
    knowing how the client builds its chain.
    """

    __slots__ = ("_structurers", "base_url", "derive", "handler", "strict_responses")

    def __init__(
        self,
        base_url: str,
        handler: Handler,
        derive: Derive | None = None,
        *,
        strict_responses: bool = False,
    ) -> None:
        self.base_url = base_url
        self.handler = handler
        self.derive = derive
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

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one logical call through the chain (retries happen inside)."""
        # Positional: attrs' keyword construction costs more, and this runs per call.
        request = Request(
            method,
            url,
            dict(headers) if headers else {},
            params,
            None if body is None else _json.dumps(body),
        )
        return await self.handler(request)

    async def call(
        self,
        method: str,
        url: str,
        structure: Callable[[Any], T],
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """Send, then structure the 2xx body with ``structure`` or raise ``ResponseDecodeError``."""
        response = await self.send(method, url, params=params, body=body, headers=headers)
        return decode(response, structure)


def decode(response: Response, structure: Callable[[Any], T]) -> T:
    """Parse and structure a success body; anything unexpected is a ``ResponseDecodeError``."""
    data = response.data
    try:
        if data is NOT_PARSED:  # a chain without the decoding step (custom transports)
            data = _json.loads(response.content)
    except ValueError as exc:
        raise _decode_error(response, f"response body is not valid JSON: {exc}") from None
    except RecursionError:
        # The stdlib parser (used without orjson) recurses once per nesting level.
        raise _decode_error(response, "response body is nested too deeply") from None
    try:
        return structure(data)
    except DecodeFailure as exc:
        raise _decode_error(response, f"response body does not fit the model: {exc}") from None
    except RecursionError:
        raise _decode_error(response, "response body is nested too deeply") from None


def _decode_error(response: Response, message: str) -> ResponseDecodeError:
    return ResponseDecodeError(
        message,
        status=response.status,
        request_id=request_id_of(response.headers),
        body=snippet(response.content),
    )


def idempotency_headers(key: str | None) -> Mapping[str, str] | None:
    """Headers for a caller-chosen idempotency key (``None``: let the SDK mint one)."""
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > 255 or not key.isprintable():
        raise InvalidArgumentError("idempotency_key must be a printable str of 1 to 255 characters")
    return {"Idempotency-Key": key}
