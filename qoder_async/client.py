"""``QoderClient``: builds the transport and the middleware chain, exposes the resources."""

from __future__ import annotations

import functools
import os
import platform
import random
import ssl
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs

from qoder_async.config import ClientConfig, Limits, RetryPolicy, SecretToken, Timeouts
from qoder_async.errors import QoderConfigError
from qoder_async.middleware import (
    AuthHeaders,
    Handler,
    Middleware,
    TokenProvider,
    attempt_handler,
    build_chain,
    decode_errors,
    idempotency_key,
)
from qoder_async.observability import configure_logging_from_env
from qoder_async.ratelimit import RateController, RateLimit
from qoder_async.resources import DeploymentRunsAPI, DeploymentsAPI
from qoder_async.resources._base import ResourceContext
from qoder_async.resources._options import resolve_timeout
from qoder_async.retry import RetryMiddleware, Sleep
from qoder_async.transport import AiohttpTransport, Transport

__all__ = ["QoderClient"]

TOKEN_ENV = "QODER_PAT"
STRICT_ENV = "QODER_STRICT_RESPONSES"


class QoderClient:
    """Async client for the Qoder Cloud Agents Deployments API.

    Use it as ``async with QoderClient() as client: ...`` (or call ``aclose()``). One
    client serves any number of concurrent calls; create one per event loop.

    Args:
        token: A personal access token (``pt-…``), a ``SecretToken``, or an async
            callable returning one (called on every attempt). Defaults to ``QODER_PAT``.
        base_url: API root; defaults to ``QODER_BASE_URL`` or the global endpoint.
        config: A full ``ClientConfig``; the keyword arguments below override it.
        timeout: ``Timeouts`` (pool, connect, read, total), or seconds for one attempt's
            total (the other timeouts keep their defaults).
        retry: A ``RetryPolicy``, or the number of attempts in all.
        transport: A transport to use instead of the default ``AiohttpTransport``
            (the client does not close a transport it was given).
        session: An ``aiohttp.ClientSession`` to borrow for the default transport.
        middleware: Per-call middlewares (run once per logical call, outermost first).
        per_attempt_middleware: Middlewares run on every attempt, after auth.
        headers: Extra headers on every request.
        sleep: The sleep the retry layer uses (inject one in tests).
        limits: Connection pool limits and the response size cap.
        allow_insecure_http: Allow ``http://`` to a host that is not loopback.
        strict_responses: Raise ``ResponseDecodeError`` when a success body does not
            fit its model. Off by default: the part that does not fit is kept raw on
            the model and logged once at WARNING (see ``ClientConfig``).
            ``QODER_STRICT_RESPONSES=1`` in the environment turns it on when neither
            this nor ``config`` says otherwise (e.g. for a whole test suite).
        ssl_context: A custom ``ssl.SSLContext`` for the default transport (a private
            CA, client certificates); certificate verification stays on unless the
            context itself turns it off.
        rate_limit: Client-wide pacing of every attempt (reads and writes apart):
            ``"auto"`` (the default) learns the server's allowed rate from 429/503 and
            ``X-RateLimit-*`` headers and does nothing until the server pushes back; a
            number paces at that many requests per second; ``None`` turns it off. A
            ``RateController`` may be passed to share one between clients.

    ``QODER_LOG=debug|info|warning`` in the environment, read here, logs the
    ``qoder_async`` logger to stderr when nothing else handles it yet (see
    ``qoder_async.observability``).

    Raises:
        QoderConfigError: No token was given and ``QODER_PAT`` is not set.
    """

    def __init__(
        self,
        token: str | SecretToken | TokenProvider | None = None,
        *,
        base_url: str | None = None,
        config: ClientConfig | None = None,
        timeout: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        transport: Transport | None = None,
        session: Any = None,
        middleware: Sequence[Middleware] = (),
        per_attempt_middleware: Sequence[Middleware] = (),
        headers: Mapping[str, str] | None = None,
        sleep: Sleep | None = None,
        limits: Limits | None = None,
        allow_insecure_http: bool | None = None,
        ssl_context: ssl.SSLContext | None = None,
        strict_responses: bool | None = None,
        rate_limit: RateLimit | RateController = "auto",
    ) -> None:
        try:
            self._token = _resolve_token(token)
        except (TypeError, ValueError) as exc:
            # Neither this frame nor the inner ones may keep the raw token for a
            # traceback printed with its locals (pytest --showlocals, error trackers):
            # re-raise the error without the frames below, without the (suppressed but
            # still reachable) errors it was raised from, and with no token here.
            del token
            exc.__context__ = exc.__cause__ = None
            raise exc.with_traceback(None) from None
        del token
        configure_logging_from_env()
        self._config = _merge_config(
            config,
            base_url=base_url,
            timeout=timeout,
            retry=retry,
            headers=headers,
            limits=limits,
            allow_insecure_http=allow_insecure_http,
        )
        if strict_responses is None and config is None:
            strict_responses = os.environ.get(STRICT_ENV, "").strip() in ("1", "true")
        if strict_responses is not None:
            self._config = attrs.evolve(self._config, strict_responses=strict_responses)
        if transport is None:
            transport = AiohttpTransport(
                session=session,
                timeouts=self._config.timeouts,
                limits=self._config.limits,
                ssl_context=ssl_context,
            )
            self._owns_transport = True
        else:
            if session is not None or ssl_context is not None:
                raise TypeError("pass either transport or session/ssl_context, not both")
            self._owns_transport = False
        self._transport = transport
        self._middleware = tuple(middleware)
        self._per_attempt = tuple(per_attempt_middleware)
        self._sleep = sleep
        self._rate_control: RateController | None = (
            rate_limit
            if isinstance(rate_limit, RateController) or rate_limit is None
            else RateController(rate_limit)
        )
        self._closed = False
        self._build()

    def _build(self) -> None:
        config = self._config
        slots: list[Middleware] = [*self._middleware]
        if config.idempotency_keys:
            slots.append(idempotency_key)
        slots.append(RetryMiddleware(config.retry, sleep=self._sleep, rng=random.Random()))
        auth = AuthHeaders(
            self._token,
            user_agent=config.user_agent or default_user_agent(),
            default_headers=config.default_headers,
        )
        if self._rate_control is not None:
            slots.append(self._rate_control)  # one token per attempt, below the retries
        if self._per_attempt:
            attempt = build_chain([auth, *self._per_attempt, decode_errors], self._transport.send)
        else:
            # The usual client: headers, transport and decoding in one coroutine.
            attempt = attempt_handler(auth, self._transport.send)
        self._handler: Handler = build_chain(slots, attempt)
        parts = self._parts()

        def derive(
            *,
            retry: RetryPolicy | int | None,
            timeout: Timeouts | float | None,
            per_attempt_middleware: Sequence[Middleware],
        ) -> ResourceContext:
            # What a resource's own ``with_options`` builds on. It closes over the parts,
            # not over ``self``: a client and its resources must not form a cycle.
            clone = _derived(parts, retry=retry, timeout=timeout, extra=per_attempt_middleware)
            return clone._ctx

        # The timeouts ride on every request down to the transport (Request.timeout).
        ctx = self._ctx = ResourceContext(
            config.base_url,
            self._handler,
            derive,
            timeouts=config.timeouts,
            strict_responses=config.strict_responses,
        )
        self.deployments = DeploymentsAPI(ctx)
        """Deployments: create, get, update, pause, unpause, archive, run, list, bulk."""
        self.deployment_runs = DeploymentRunsAPI(ctx)
        """Runs across all deployments: list, get."""

    @property
    def config(self) -> ClientConfig:
        """The configuration in force."""
        return self._config

    @property
    def base_url(self) -> str:
        """The API root every path is joined to."""
        return self._config.base_url

    @property
    def transport(self) -> Transport:
        """The transport requests go out on."""
        return self._transport

    @property
    def rate_control(self) -> RateController | None:
        """The rate controller every attempt goes through (``None``: ``rate_limit=None``)."""
        return self._rate_control

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose`` has been called."""
        return self._closed

    def with_options(
        self,
        *,
        timeout: Timeouts | float | None = None,
        retry: RetryPolicy | int | None = None,
        headers: Mapping[str, str] | None = None,
        per_attempt_middleware: Sequence[Middleware] = (),
    ) -> QoderClient:
        """A client sharing this one's connections, with other timeouts, retries or headers.

        ``timeout`` replaces the ``Timeouts`` (seconds replace only ``total``);
        ``per_attempt_middleware`` runs on every attempt after this client's own
        per-attempt middleware. Everything client-wide -- the transport and its pool, and
        any state held on the client, such as the rate controller -- is shared with this
        one, not copied, so both keep to one pace. The copy does
        not own the connections: close the original, not the copy.
        """
        return _derived(
            self._parts(),
            retry=retry,
            timeout=timeout,
            headers=headers,
            extra=per_attempt_middleware,
        )

    def _parts(self) -> dict[str, Any]:
        """What a derived client shares with this one: everything but what ``_build`` makes."""
        return {name: value for name, value in vars(self).items() if name not in _BUILT}

    async def aclose(self) -> None:
        """Close the connections this client opened. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._owns_transport:
            await self._transport.aclose()

    async def __aenter__(self) -> QoderClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        # getattr: a traceback of a failed __init__ may repr the half-built client.
        config = getattr(self, "_config", None)
        return f"QoderClient(base_url={config.base_url if config else None!r})"

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # Only warn: closing needs the loop the session lives on, which may be gone,
        # and scheduling work on a foreign loop from a finaliser is worse than a leak.
        if getattr(self, "_closed", True) or not getattr(self, "_owns_transport", False):
            return
        transport = self._transport
        if isinstance(transport, AiohttpTransport) and transport.session_created:
            _warn(
                f"unclosed {self!r}: use 'async with QoderClient()' or await aclose()",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )


_BUILT = frozenset({"_handler", "_ctx", "deployments", "deployment_runs"})
"""Attributes ``_build`` makes from the others; a derived client builds its own."""


def _derived(
    parts: Mapping[str, Any],
    *,
    retry: RetryPolicy | int | None = None,
    timeout: Timeouts | float | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Sequence[Middleware] = (),
) -> QoderClient:
    """A client sharing ``parts`` (transport not owned), with the given options on top."""
    clone = object.__new__(QoderClient)
    # Every attribute is shared as is (so client-wide state added later is too); only
    # what the options change, and ownership, differ.
    clone.__dict__.update(parts)
    clone._config = _merge_config(clone._config, timeout=timeout, retry=retry, headers=headers)
    clone._per_attempt = (*clone._per_attempt, *extra)
    clone._owns_transport = False
    clone._closed = False
    clone._build()
    return clone


@functools.cache
def default_user_agent() -> str:
    """``qoder-async/<version> python/<x.y.z> aiohttp/<x.y.z>``, sent unless configured."""
    import aiohttp

    from qoder_async import __version__

    python = platform.python_version()
    return f"qoder-async/{__version__} python/{python} aiohttp/{aiohttp.__version__}"


def _resolve_token(token: str | SecretToken | TokenProvider | None) -> SecretToken | TokenProvider:
    if token is None:
        value = os.environ.get(TOKEN_ENV, "").strip()
        if not value:
            raise QoderConfigError(
                f"no API token: pass token=... or set the {TOKEN_ENV} environment variable"
            )
        return SecretToken(value)
    if isinstance(token, SecretToken):
        return token
    if isinstance(token, str):
        try:
            return SecretToken(token)
        except ValueError as exc:
            raise QoderConfigError(f"invalid token: {exc}") from None
    if callable(token):
        return token
    raise TypeError(f"token must be a str or an async callable, not {type(token).__name__}")


def _merge_config(
    config: ClientConfig | None,
    *,
    base_url: str | None = None,
    timeout: Timeouts | float | None = None,
    retry: RetryPolicy | int | None = None,
    headers: Mapping[str, str] | None = None,
    limits: Limits | None = None,
    allow_insecure_http: bool | None = None,
) -> ClientConfig:
    changes: dict[str, Any] = {}
    if base_url is not None:
        changes["base_url"] = base_url
    if allow_insecure_http is not None:
        changes["allow_insecure_http"] = allow_insecure_http
    if timeout is not None:
        current = config.timeouts if config is not None else Timeouts()
        changes["timeouts"] = resolve_timeout(timeout, current)
    if retry is not None:
        if isinstance(retry, RetryPolicy):
            changes["retry"] = retry
        elif isinstance(retry, int) and not isinstance(retry, bool):
            base = config.retry if config is not None else RetryPolicy()
            changes["retry"] = attrs.evolve(base, max_attempts=retry)
        else:
            raise TypeError(f"retry must be RetryPolicy or an int, not {type(retry).__name__}")
    if headers is not None:
        merged = dict(config.default_headers) if config is not None else {}
        merged.update(headers)
        changes["default_headers"] = merged
    if limits is not None:
        changes["limits"] = limits
    if config is None:
        return ClientConfig.from_env(**changes)
    return attrs.evolve(config, **changes) if changes else config
