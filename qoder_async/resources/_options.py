"""Per-call options every resource method takes: ``timeout=`` and the ``extra_*`` escapes.

They are checked when the method is called, before anything is sent, with the same
care as the method's own arguments, and merged last (so they win over what the SDK
built). A call without any of them costs nothing: ``CallOptions.of`` returns ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from qoder_async._redaction import SENSITIVE_HEADERS, SecretHeaderValue
from qoder_async.config import Timeouts

__all__ = ["CallOptions", "resolve_timeout"]

# RFC 9110 token characters: what a header name may be made of.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def resolve_timeout(
    timeout: Timeouts | float, base: Timeouts, *, name: str = "timeout"
) -> Timeouts:
    """``timeout`` as ``Timeouts``: seconds replace only ``total`` of ``base``."""
    if isinstance(timeout, Timeouts):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"{name} must be Timeouts or seconds, not {type(timeout).__name__}")
    if not timeout > 0:
        raise ValueError(f"{name} must be > 0 seconds, got {timeout!r}")
    return attrs.evolve(base, total=float(timeout))


@attrs.frozen(slots=True)
class CallOptions:
    """What one call adds to the request the resource built (all already validated)."""

    timeout: Timeouts | float | None = None
    headers: Mapping[str, str] | None = None
    query: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None

    @classmethod
    def of(
        cls,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CallOptions | None:
        """Validated options, or ``None`` when the caller gave none."""
        if timeout is None and extra_headers is None and extra_query is None:  # noqa: SIM102
            if extra_body is None:
                return None  # the usual call: nothing to check or merge
        if timeout is not None:
            resolve_timeout(timeout, Timeouts())  # checked now; applied to the client's
        return cls(
            timeout,
            _headers(extra_headers),
            _strings("extra_query", extra_query),
            _body(extra_body),
        )

    def timeouts(self, base: Timeouts | None) -> Timeouts | None:
        """The timeouts of this call, given the client's ``base``."""
        if self.timeout is None:
            return base
        return resolve_timeout(self.timeout, base or Timeouts())


def _mapping(name: str, value: object) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be str, got {type(key).__name__} {key!r}")
    return value


def _strings(name: str, value: Mapping[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    checked: dict[str, str] = {}
    for key, item in _mapping(name, value).items():
        if not isinstance(item, str):
            raise TypeError(f"{name}[{key!r}] must be a str, not {type(item).__name__}")
        checked[key] = item
    return checked


def _headers(value: Mapping[str, str] | None) -> dict[str, str] | None:
    checked = _strings("extra_headers", value)
    if checked is None:
        return None
    for key, item in checked.items():
        if not _HEADER_NAME.fullmatch(key):
            raise ValueError(f"extra_headers has an invalid header name {key!r}")
        if not item.isprintable() or not item.isascii():
            # The value is not shown: it may be a credential.
            raise ValueError(f"extra_headers[{key!r}] must be printable ASCII")
        if key.lower() in SENSITIVE_HEADERS:
            checked[key] = SecretHeaderValue(item)  # masked in reprs like the token
    return checked


def _body(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return dict(_mapping("extra_body", value))
