"""Client configuration: frozen, keyword-only value objects with safe defaults.

Nothing here does I/O; ``ClientConfig.from_env`` only reads environment variables.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs

from qoder_async._redaction import headers_repr
from qoder_async.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = [
    "DEFAULT_BASE_URL",
    "ClientConfig",
    "Limits",
    "RetryPolicy",
    "SecretToken",
    "Timeouts",
]

DEFAULT_BASE_URL = "https://api.qoder.com/api/v1/cloud"


class SecretToken:
    """A bearer token that never shows itself in a repr, str, log line or pickle."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        problem = _token_problem(value)
        if problem is None:
            self._value = value.strip()
            return
        # Drop the rejected token from this frame: tracebacks may be shown with locals.
        del value
        raise problem

    def get_secret_value(self) -> str:
        """The token itself, for the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return "SecretToken('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretToken) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a SecretToken cannot be pickled")


def _token_problem(value: object) -> Exception | None:
    if not isinstance(value, str):
        return InvalidArgumentTypeError(f"token must be a str, not {type(value).__name__}")
    value = value.strip()
    if not value:
        return InvalidArgumentError("token must not be empty")
    if any(ch in value for ch in "\r\n\x00"):
        return InvalidArgumentError("token contains a control character")
    return None


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:
        raise InvalidArgumentError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Timeouts:
    """Network timeouts in seconds, as httpx users know them (``None`` disables one).

    Every one is enforced per request, so ``client.with_options(timeout=...)`` and a
    per-call ``timeout=`` change it for the calls they cover.

    Attributes:
        pool: Waiting for a free connection slot (with ``Limits.max_connections``
            reached). aiohttp times the slot wait and the opening together, so getting a
            connection is bounded by ``pool + connect`` in all.
        connect: Opening a new connection: TCP and TLS.
        read: Silence allowed between bytes once the request is on its way (aiohttp
            has no separate write timer: a stalled upload also counts as silence here).
        total: One whole attempt, from asking for a connection to the last byte; the
            call's overall deadline, retries and backoff included, is
            ``RetryPolicy.deadline``.
    """

    pool: float | None = attrs.field(default=10.0, validator=_positive)
    connect: float | None = attrs.field(default=10.0, validator=_positive)
    read: float | None = attrs.field(default=60.0, validator=_positive)
    total: float | None = attrs.field(default=None, validator=_positive)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How the SDK retries, bounded by attempts *and* by a total deadline.

    Attributes:
        max_attempts: Attempts in all, the first included (1 disables retries).
        deadline: Seconds the whole call may take, backoff included (``None``: unbounded).
        initial_backoff: Base of the exponential backoff.
        max_backoff: Ceiling of one backoff sleep.
        max_retry_after: Longest ``Retry-After`` the SDK will honour; a longer one ends
            the retries and surfaces the error with its ``retry_after``.
        jitter: Full jitter (a uniform draw up to the backoff); off only for tests.
    """

    max_attempts: int = attrs.field(default=4)
    deadline: float | None = attrs.field(default=120.0, validator=_positive)
    initial_backoff: float = attrs.field(default=0.25, validator=_positive)
    max_backoff: float = attrs.field(default=8.0, validator=_positive)
    max_retry_after: float = attrs.field(default=60.0, validator=_positive)
    jitter: bool = True

    @max_attempts.validator
    def _check_attempts(self, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgumentError(f"max_attempts must be an int >= 1, got {value!r}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)


@attrs.frozen(kw_only=True)
class Limits:
    """Connection pool limits for the aiohttp transport.

    Attributes:
        max_connections: Open connections in all (0 means unlimited, not advised).
        max_connections_per_host: Per host; the API is one host, so this is the real cap.
        keepalive_timeout: Seconds an idle connection is kept for reuse.
        max_response_bytes: A larger response body is refused, not buffered.
    """

    max_connections: int = 256
    max_connections_per_host: int = 256
    keepalive_timeout: float = 30.0
    max_response_bytes: int = 32 * 1024 * 1024


def check_base_url(url: str, *, allow_insecure: bool = False) -> str:
    """Validate a base URL and return it without a trailing slash.

    ``http://`` is refused unless the host is loopback or ``allow_insecure`` is set, so a
    token is never sent in clear text by accident.
    """
    if not isinstance(url, str):
        raise InvalidArgumentTypeError(f"base_url must be a str, not {type(url).__name__}")
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidArgumentError(f"base_url must be an absolute http(s) URL, got {url!r}")
    if parts.query or parts.fragment:
        raise InvalidArgumentError(f"base_url must not carry a query or fragment, got {url!r}")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise InvalidArgumentError(f"base_url has an invalid port, got {url!r}") from None
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in reprs and logs, and would clash with the token.
        raise InvalidArgumentError("base_url must not carry a user name or password")
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        raise InvalidArgumentError(
            f"base_url {url!r} is plain http to a non-loopback host; use https, "
            "or pass allow_insecure_http=True if you really mean it"
        )
    return urllib.parse.urlunsplit(parts).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen(kw_only=True)
class ClientConfig:
    """Everything a ``QoderClient`` needs besides its token and transport.

    Attributes:
        base_url: API root, ``https://api.qoder.com/api/v1/cloud`` by default.
        timeouts: Per-attempt network timeouts.
        retry: The retry policy for every call (``with_options`` overrides it).
        limits: Connection pool and response size limits.
        user_agent: Sent on every request; ``None`` sends
            ``qoder-async/<version> python/<x.y.z> aiohttp/<x.y.z>``.
        default_headers: Extra headers on every request (e.g. ``qoder-workspace-id``).
        idempotency_keys: Mint an ``Idempotency-Key`` for every POST (keep it on: it is
            what makes retrying a write safe).
        allow_insecure_http: Allow ``http://`` to a non-loopback host.
        strict_responses: Raise ``ResponseDecodeError`` (naming the path) when a
            success body does not fit its model. Off by default: a nested part that
            does not fit is kept raw on the model (see the README) and logged once
            per model and path at WARNING on the ``qoder_async`` logger.
    """

    base_url: str = DEFAULT_BASE_URL
    timeouts: Timeouts = attrs.field(factory=Timeouts)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    limits: Limits = attrs.field(factory=Limits)
    user_agent: str | None = None
    # Masked in the repr: default headers may carry a credential (x-api-key, cookie).
    default_headers: Mapping[str, str] = attrs.field(factory=dict, repr=headers_repr)
    idempotency_keys: bool = True
    allow_insecure_http: bool = False
    strict_responses: bool = False

    def __attrs_post_init__(self) -> None:
        url = check_base_url(self.base_url, allow_insecure=self.allow_insecure_http)
        object.__setattr__(self, "base_url", url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ClientConfig:
        """Build a config from ``QODER_BASE_URL`` (and explicit overrides)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        base_url = env.get("QODER_BASE_URL", "").strip()
        if base_url:
            values["base_url"] = base_url
        values.update(overrides)
        return cls(**values)
