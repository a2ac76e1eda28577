"""The middleware chain: plain ``async (request, call_next) -> Response`` callables.

``build_chain`` folds a list of middlewares around a terminal handler once, when the
client is built. The client's fixed slots, outermost first::

    user per-call middleware -> idempotency key -> retry -> rate controller
        -> headers + auth -> user per-attempt middleware -> error decoding
        -> transport.send

Everything above ``retry`` runs once per logical call (so the idempotency key is minted
once and reused by every attempt); everything below runs on every attempt (so auth is
fresh, every attempt takes a token from the client-wide rate controller, and the
per-attempt hooks see each try). Without per-attempt middleware and with a
static token, the client runs headers, transport and decoding as one coroutine
(``attempt_handler``): the same steps, fewer objects per attempt.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence

from qoder_async._messages import Request, Response
from qoder_async._redaction import SENSITIVE_HEADERS, SecretHeaderValue
from qoder_async.config import SecretToken
from qoder_async.errors import QoderConfigError, decode_error, parse_body

__all__ = [
    "AuthHeaders",
    "Handler",
    "Middleware",
    "TokenProvider",
    "attempt_handler",
    "build_chain",
    "decode_errors",
    "decoded",
    "idempotency_key",
]

Handler = Callable[[Request], Awaitable[Response]]
"""Sends a request and returns its response: the transport, or the rest of the chain."""

Middleware = Callable[[Request, Handler], Awaitable[Response]]
"""Wraps the rest of the chain: ``await call_next(request)`` continues it."""

TokenProvider = Callable[[], Awaitable[str]]
"""An async callable returning a bearer token; called once per attempt."""

IDEMPOTENCY_HEADER = "Idempotency-Key"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def build_chain(middlewares: Sequence[Middleware], terminal: Handler) -> Handler:
    """Compose ``middlewares`` (outermost first) around ``terminal`` into one handler."""
    handler = terminal
    for middleware in reversed(middlewares):
        handler = _bind(middleware, handler)
    return handler


def _bind(middleware: Middleware, call_next: Handler) -> Handler:
    # A plain function handing back the middleware's own awaitable, not a coroutine
    # awaiting it: that would add one coroutine object and frame per layer per call.
    def handler(request: Request) -> Awaitable[Response]:
        return middleware(request, call_next)

    handler.__qualname__ = f"chain[{getattr(middleware, '__qualname__', middleware)!s}]"
    return handler


# The hex digit of a UUID's 17th position, by random hex digit: the top two bits set to
# the RFC 4122 variant (10), the other two kept random.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _new_key() -> str:
    """A random RFC 4122 version-4 UUID in its canonical lower-case 8-4-4-4-12 form.

    Equivalent to ``str(uuid.uuid4())`` (122 random bits from ``os.urandom``, the same
    CSPRNG, and fork-safe) at a third of its cost: it runs on every write, and building
    a ``UUID`` object only to format it was most of the key's price.
    """
    digits = os.urandom(16).hex()
    return (
        f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-"
        f"{_VARIANT_DIGIT[digits[16]]}{digits[17:20]}-{digits[20:]}"
    )


async def idempotency_key(request: Request, call_next: Handler) -> Response:
    """Give a write an ``Idempotency-Key`` once per logical call.

    It sits above the retry layer, so every attempt of the call carries the same key and
    the API replays the original result instead of applying the change twice. A key the
    caller set (either spelling) is kept.
    """
    if request.method in _WRITE_METHODS:
        headers = request.headers
        if not headers:
            # The usual case: nothing to look through, nothing to merge.
            request = Request(
                request.method,
                request.url,
                {IDEMPOTENCY_HEADER: _new_key()},
                request.params,
                request.content,
                request.timeout,
            )
        elif not (request.header(IDEMPOTENCY_HEADER) or request.header("X-Idempotency-Key")):
            request = request.with_headers({IDEMPOTENCY_HEADER: _new_key()})
    return await call_next(request)


class AuthHeaders:
    """Set the Authorization, User-Agent and default headers on every attempt.

    Args:
        token: A static token, or an async provider called once per attempt (so a
            refreshed token is picked up by the next retry).
        user_agent: The ``User-Agent`` value.
        default_headers: Headers for every request; the request's own win.
    """

    __slots__ = ("_headers", "_provider")

    def __init__(
        self,
        token: SecretToken | TokenProvider,
        *,
        user_agent: str,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._headers: dict[str, str] = {"User-Agent": user_agent, "Accept": "application/json"}
        for name, value in (default_headers or {}).items():
            # A credential in the default headers (x-api-key, cookie, ...) gets the same
            # masked repr as the token; done once here, not on every request.
            secret = name.lower() in SENSITIVE_HEADERS
            self._headers[name] = SecretHeaderValue(value) if secret else value
        self._provider: TokenProvider | None = None
        if isinstance(token, SecretToken):
            self._headers["Authorization"] = _bearer(token.get_secret_value())
        else:
            self._provider = token

    def __repr__(self) -> str:
        return "AuthHeaders(<redacted>)"

    @property
    def static(self) -> bool:
        """Whether the token is fixed (no provider to await on each attempt)."""
        return self._provider is None

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        """Add the headers and continue."""
        if self._provider is None:
            return await call_next(self.prepare(request))
        # No local name for the raw token: this frame is in the traceback of every
        # error of the attempt, and tracebacks may be printed with their locals.
        return await call_next(self.prepare(request, _provided_bearer(await self._provider())))

    def prepare(self, request: Request, authorization: SecretHeaderValue | None = None) -> Request:
        """The attempt's request: this middleware's headers under the request's own.

        This is the attempt's one copy of the request.
        """
        headers = dict(self._headers)
        if authorization is not None:
            headers["Authorization"] = authorization
        if request.content is not None:
            headers["Content-Type"] = "application/json"
        headers.update(request.headers)
        # Positional: attrs' keyword construction costs more, and this runs per attempt.
        return Request(
            request.method, request.url, headers, request.params, request.content, request.timeout
        )


def attempt_handler(auth: AuthHeaders, send: Handler) -> Handler:
    """``build_chain([auth, decode_errors], send)`` as one coroutine per attempt.

    The client uses it when no per-attempt middleware sits between the two and the
    token is static: the same headers, the same decoding, two coroutines fewer on every
    attempt.
    """
    if not auth.static:
        return build_chain([auth, decode_errors], send)
    prepare = auth.prepare

    async def attempt(request: Request) -> Response:
        return decoded(await send(prepare(request)))

    return attempt


def _bearer(token: str) -> SecretHeaderValue:
    return SecretHeaderValue(f"Bearer {token}")


def _provided_bearer(token: object) -> SecretHeaderValue:
    try:
        if isinstance(token, str) and token.strip():
            return _bearer(SecretToken(token).get_secret_value())
        problem = "returned no token"
    except ValueError as exc:
        problem = f"returned an invalid token: {exc}"
    del token  # see AuthHeaders.__call__: keep it out of the traceback's locals
    raise QoderConfigError(f"the token provider {problem}")


async def decode_errors(request: Request, call_next: Handler) -> Response:
    """Raise the typed ``APIStatusError`` for any non-2xx response; parse a 2xx body.

    It runs inside each attempt, so the retry layer decides on typed errors. Together
    with ``errors.decode_error`` (which parses error bodies with the same
    ``errors.parse_body``) this is the one place a response becomes data or an error.
    """
    return decoded(await call_next(request))


def decoded(response: Response) -> Response:
    """``response`` with its 2xx body parsed, or the typed error for any other status."""
    if not 200 <= response.status < 300:
        raise decode_error(response)
    # The body is parsed here, inside the attempt, so that a cut-off or non-JSON body
    # (a failed transfer) reaches the retry layer as an error it can retry. An empty
    # body is left to the caller: only it knows whether the endpoint returns one.
    if not response.content:
        return response
    return response.set_parsed(parse_body(response))
