"""Small pieces shared by the fake server's modules: API errors, ids and timestamps."""

from __future__ import annotations

import random
import time
from typing import Any

__all__ = [
    "ApiError",
    "Bounds",
    "IdFactory",
    "Json",
    "format_nanos",
    "format_seconds",
    "in_bounds",
    "put_sorted",
]

Json = dict[str, Any]
#: ``(gt, gte, lt, lte)`` limits of a ``created_at[...]`` filter.
Bounds = tuple[float | None, float | None, float | None, float | None]


class ApiError(Exception):
    """An error the fake API answers with, rendered in the documented envelope."""

    def __init__(self, status: int, error_type: str, message: str, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.param = param

    def envelope(self) -> dict[str, Any]:
        """The ``{"type": "error", "error": {...}}`` body (``param`` only when known)."""
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        return {"type": "error", "error": error}

    @classmethod
    def bad_request(cls, message: str, param: str | None = None) -> ApiError:
        """A 400 ``invalid_request_error``."""
        return cls(400, "invalid_request_error", message, param)

    @classmethod
    def not_found(cls, message: str) -> ApiError:
        """A 404 ``not_found_error``."""
        return cls(404, "not_found_error", message)

    @classmethod
    def conflict(cls, message: str) -> ApiError:
        """A 409 ``conflict_error``."""
        return cls(409, "conflict_error", message)


def format_seconds(posix: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` — deployments carry whole seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(posix))


def format_nanos(nanos: int, digits: int = 9) -> str:
    """RFC 3339 with up to ``digits`` fractional digits, trailing zeros trimmed.

    This mirrors the API's run timestamps (``08:54:06.310253147Z``, ``08:58:17.13334Z``):
    the fraction has variable length, so clients must not assume a fixed width.
    """
    seconds, frac = divmod(nanos, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f"{frac:09d}"[:digits].rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


class IdFactory:
    """Makes ``<prefix>_`` + 32 lowercase hex ids, time-ordered like the real API's.

    The first 12 hex digits are the creation time in milliseconds (as in the observed
    UUIDv7-style ids), then a counter that makes ids unique and increasing within a
    store, then random digits. The random part comes from a seedable generator so a
    seeded store hands out the same ids every run.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self._sequence = 0

    def next_sequence(self) -> int:
        """A strictly increasing number (also used to break ordering ties)."""
        self._sequence += 1
        return self._sequence

    def new(self, prefix: str, posix: float, sequence: int | None = None) -> str:
        """A fresh id for an object created at ``posix`` seconds."""
        if sequence is None:
            sequence = self.next_sequence()
        millis = int(posix * 1000) & 0xFFFF_FFFF_FFFF
        tail = self._random.getrandbits(48)
        return f"{prefix}_{millis:012x}7{sequence & 0xFFFFFFF:07x}{tail:012x}"


def put_sorted(obj: Json, key: str, value: Any) -> None:
    """Set ``key`` keeping keys alphabetical, as the API (and the fixtures) order them."""
    if key in obj:
        obj[key] = value
        return
    obj[key] = value
    items = sorted(obj.items())
    obj.clear()
    obj.update(items)


def in_bounds(value: float, bounds: Bounds) -> bool:
    """Whether ``value`` satisfies every given ``(gt, gte, lt, lte)`` limit."""
    gt, gte, lt, lte = bounds
    return not (
        (gt is not None and value <= gt)
        or (gte is not None and value < gte)
        or (lt is not None and value >= lt)
        or (lte is not None and value > lte)
    )
