"""Request and Response value objects that travel through the middleware chain.

They carry bytes, not models: the resource layer encodes a body once, so every retry
attempt sends exactly the same bytes (which is what lets the API replay an
``Idempotency-Key``), and decodes the final response once. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from qoder_async import _json
from qoder_async._redaction import headers_repr

if TYPE_CHECKING:
    from qoder_async.config import Timeouts

__all__ = ["NOT_PARSED", "Request", "Response", "url_path"]


def url_path(url: str) -> str:
    """The path (and query) of an absolute URL: ``/api/v1/cloud/deployments``."""
    _, _, rest = url.partition("://")
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


class _NotParsed:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_PARSED"


NOT_PARSED: Any = _NotParsed()
"""``Response.data`` before the body was parsed."""


@attrs.frozen(slots=True)
class Request:
    """One HTTP request as the SDK sends it.

    Attributes:
        method: Upper-case HTTP method.
        url: Absolute URL, path already validated and quoted.
        headers: Header names and values; middlewares add to a copy via ``with_headers``.
            The repr shows the values of ``SENSITIVE_HEADERS`` as ``[redacted]``.
        params: Query parameters, already converted to strings.
        content: The encoded body, or ``None`` for no body.
        timeout: The ``Timeouts`` of this call (the client's, ``with_options``' or the
            per-call ``timeout=``), carried down to the transport, which enforces pool,
            connect and read per request; the retry layer bounds each attempt by
            ``total`` and the call's deadline. ``None``: the transport's own defaults.
    """

    method: str
    url: str
    # The repr masks credentials: requests show up in tracebacks, logs and test output.
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=headers_repr)
    params: Mapping[str, str] | None = None
    content: bytes | None = None
    timeout: Timeouts | None = None

    @property
    def path(self) -> str:
        """The URL's path, for messages and logs (never the host or credentials)."""
        return url_path(self.url)

    def with_headers(self, extra: Mapping[str, str]) -> Request:
        """Return a copy with ``extra`` headers added (replacing same-named ones)."""
        merged = dict(self.headers)
        merged.update(extra)
        # Built directly rather than with attrs.evolve: this runs on every write.
        return Request(self.method, self.url, merged, self.params, self.content, self.timeout)

    def with_timeout(self, timeout: Timeouts | None) -> Request:
        """Return a copy carrying ``timeout`` instead."""
        return Request(self.method, self.url, self.headers, self.params, self.content, timeout)

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        value = self.headers.get(name)
        if value is not None:
            return value
        lowered = name.lower()
        for key, val in self.headers.items():
            if key.lower() == lowered:
                return val
        return None


@attrs.frozen(slots=True)
class Response:
    """One HTTP response, whatever its status.

    Attributes:
        status: HTTP status code.
        headers: Response headers; lookups are case-insensitive; the repr masks cookies.
        content: The whole body (bounded by the transport's size cap).
        request: The request this answers (the attempt that produced it).
        elapsed: Seconds from sending to having read the body.
        data: The parsed JSON body of a 2xx, set once by the chain's decoding step
            (``NOT_PARSED`` before that), so the body is parsed once per response.
        attempts: Which attempt of its call produced this response (set by the retry
            layer), so an error found later in the body can say so.
    """

    status: int
    headers: Mapping[str, str] = attrs.field(repr=headers_repr)
    content: bytes
    request: Request
    elapsed: float = 0.0
    data: Any = attrs.field(default=NOT_PARSED, eq=False, repr=False)
    attempts: int = attrs.field(default=1, eq=False, repr=False)

    def with_data(self, data: Any) -> Response:
        """A copy carrying the parsed body."""
        return Response(self.status, self.headers, self.content, self.request, self.elapsed, data)

    def set_parsed(self, data: Any) -> Response:
        """Record the parsed body on this response and return it.

        Only the chain's decoding step calls it, on the response the transport has just
        made for this attempt (before anyone else holds it): one object per attempt
        instead of a copy per response. The value is derived from ``content``, so the
        response stays equal to what it was.
        """
        object.__setattr__(self, "data", data)
        return self

    def mark_attempts(self, attempts: int) -> None:
        """Record which attempt produced this response (the retry layer, once)."""
        object.__setattr__(self, "attempts", attempts)

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup that also works on plain dicts."""
        value = self.headers.get(name)
        if value is not None:
            return value
        lowered = name.lower()
        for key, val in self.headers.items():
            if key.lower() == lowered:
                return val
        return None

    def json(self) -> Any:
        """The body as JSON (raises ``ValueError`` when it is not).

        A 2xx that went through the client's decoding step was parsed there already.
        """
        if self.data is not NOT_PARSED:
            return self.data
        return _json.loads(self.content)

    @property
    def is_success(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status < 300
