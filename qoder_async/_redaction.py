"""What counts as a credential in headers, and how it is kept out of reprs and logs.

A leaf module (standard library only) so that the value objects in ``_messages`` and
``config``, which import nothing else from the package, can share one deny-list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "SENSITIVE_HEADERS", "SecretHeaderValue", "headers_repr", "redact_headers"]

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie"}
)
"""Lower-case names of headers whose values are never shown in a repr or a log line."""

REDACTED = "[redacted]"


class SecretHeaderValue(str):
    """A header value holding a credential (``Bearer <token>``) that hides itself.

    It is a real ``str`` (so aiohttp sends it unchanged), but its ``repr`` is masked: the
    repr of any dict, multidict, ``Request`` or traceback local holding it shows
    ``'[redacted]'``, including the frames of an HTTP library we do not control. It
    cannot be pickled. ``str()`` and f-strings still give the value: that is how it
    gets on the wire.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(REDACTED)

    def __reduce__(self) -> Any:
        raise TypeError("a secret header value cannot be pickled")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with every sensitive value replaced by ``[redacted]``."""
    return {
        key: REDACTED if key.lower() in SENSITIVE_HEADERS else value
        for key, value in headers.items()
    }


def headers_repr(headers: Mapping[str, str]) -> str:
    """The repr of ``redact_headers(headers)``, for attrs ``repr=`` hooks."""
    return repr(redact_headers(headers))
