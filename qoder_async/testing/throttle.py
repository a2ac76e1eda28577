"""A gateway-style token bucket for the fake server: 429s at a set rate, with counters.

``FakeQoderServer(throttle=Throttle(rate=100, burst=50))`` answers 429 to every request
that finds the bucket empty, the way an API gateway in front of the real service would.
Options: ``retry_after`` (send ``Retry-After``, whole seconds until a token is back),
``headers`` (send ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` on every answer),
``schedule`` (the rate changes over time), ``methods`` (throttle only some methods, e.g.
writes). The header semantics used here:

* ``X-RateLimit-Limit``: requests per second the bucket refills with;
* ``X-RateLimit-Remaining``: whole tokens left after this request;
* ``X-RateLimit-Reset``: seconds (decimal) until the bucket is full again.

It counts ``accepted`` and ``throttled`` requests, the longest gap between two accepted
ones, and accepted requests per 100 ms (``timeline``), so tests and benchmarks can tell
goodput, waste and idle time from the server's side. Time starts at the first request
the throttle sees, so a ``schedule`` is relative to when the traffic begins.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import Any

from qoder_async.testing._responses import error_body

__all__ = ["Throttle", "add_throttle_arguments", "parse_schedule", "throttle_from_args"]

TICK = 0.1
"""Width in seconds of one ``timeline`` bin."""


@dataclasses.dataclass(eq=False)
class Throttle:
    """A token bucket in front of the fake API.

    Args:
        rate: Requests per second the bucket refills with (until ``schedule`` says other).
        burst: Bucket size: requests that may go at once after a quiet spell (default
            ``rate``, at least 1).
        retry_after: Send ``Retry-After`` on a 429.
        headers: Send ``X-RateLimit-*`` headers on every throttled endpoint's answer.
        schedule: ``(seconds since the first request, rate)`` pairs: from that moment the
            bucket refills at that rate.
        methods: Only these HTTP methods are throttled (default: all).
        clock: Monotonic seconds (inject one in tests).
    """

    rate: float
    burst: float | None = None
    retry_after: bool = True
    headers: bool = False
    schedule: Sequence[tuple[float, float]] = ()
    methods: Collection[str] | None = None
    clock: Callable[[], float] = time.monotonic
    #: Requests let through.
    accepted: int = dataclasses.field(default=0, init=False)
    #: Requests answered 429.
    throttled: int = dataclasses.field(default=0, init=False)
    #: Longest time in seconds between two accepted requests.
    longest_gap: float = dataclasses.field(default=0.0, init=False)
    #: Accepted requests per ``TICK`` seconds since the first request (bin -> count).
    timeline: Counter[int] = dataclasses.field(default_factory=Counter, init=False)
    _tokens: float = dataclasses.field(default=0.0, init=False, repr=False)
    _start: float | None = dataclasses.field(default=None, init=False, repr=False)
    _refilled: float = dataclasses.field(default=0.0, init=False, repr=False)
    _last_accepted: float | None = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be > 0 requests per second, got {self.rate!r}")
        pairs = tuple(sorted((float(at), float(rate)) for at, rate in self.schedule))
        for at, rate in pairs:
            if at < 0 or not rate > 0:
                raise ValueError(f"schedule entries are (seconds >= 0, rate > 0), got {(at, rate)}")
        self.schedule = pairs
        if self.methods is not None:
            self.methods = frozenset(method.upper() for method in self.methods)

    @property
    def size(self) -> float:
        """The bucket size in requests."""
        return max(1.0, self.burst if self.burst is not None else self.rate)

    def rate_at(self, elapsed: float) -> float:
        """The refill rate ``elapsed`` seconds after the first request."""
        rate = self.rate
        for at, scheduled in self.schedule:
            if elapsed < at:
                break
            rate = scheduled
        return rate

    def elapsed(self) -> float:
        """Seconds since the first request (0 before it)."""
        return 0.0 if self._start is None else self.clock() - self._start

    def admit(self, method: str) -> tuple[bool, dict[str, str]]:
        """Take a token for one request: whether it may pass, and headers to answer with."""
        if self.methods is not None and method.upper() not in self.methods:
            return True, {}
        now = self.clock()
        if self._start is None:
            self._start = self._refilled = now
            self._tokens = self.size
        elapsed = now - self._start
        rate = self.rate_at(elapsed)
        self._tokens = min(self.size, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        headers: dict[str, str] = {}
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.accepted += 1
            if self._last_accepted is not None:
                self.longest_gap = max(self.longest_gap, now - self._last_accepted)
            self._last_accepted = now
            self.timeline[int(elapsed / TICK)] += 1
            passed = True
        else:
            self.throttled += 1
            passed = False
            if self.retry_after:
                headers["Retry-After"] = str(max(1, math.ceil((1.0 - self._tokens) / rate)))
        if self.headers:
            headers["X-RateLimit-Limit"] = f"{rate:g}"
            headers["X-RateLimit-Remaining"] = str(int(self._tokens))
            headers["X-RateLimit-Reset"] = f"{(self.size - self._tokens) / rate:.3f}"
        return passed, headers

    def rejection(self) -> bytes:
        """The body of a 429 (the API's error envelope)."""
        return error_body(429, "rate_limit_error", "Rate limit exceeded; slow down.")

    def stats(self) -> dict[str, Any]:
        """Counters as plain JSON-ready values."""
        return {
            "accepted": self.accepted,
            "throttled": self.throttled,
            "longest_gap": self.longest_gap,
            "elapsed": self.elapsed(),
            "timeline": [
                self.timeline.get(i, 0) for i in range(max(self.timeline, default=-1) + 1)
            ],
        }


def parse_schedule(text: str) -> list[tuple[float, float]]:
    """``"10:30,20:100"`` -> ``[(10.0, 30.0), (20.0, 100.0)]`` (seconds:rate pairs)."""
    pairs: list[tuple[float, float]] = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        at, sep, rate = part.partition(":")
        try:
            if not sep:
                raise ValueError
            pair = (float(at), float(rate))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad schedule entry {part!r}: use SECONDS:RATE, e.g. 10:30"
            ) from None
        if pair[0] < 0 or not pair[1] > 0:
            raise argparse.ArgumentTypeError(f"bad schedule entry {part!r}: need t >= 0, rate > 0")
        pairs.append(pair)
    return pairs


def add_throttle_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``--throttle-*`` options of the fake server's command lines."""
    group = parser.add_argument_group("throttling (a token bucket answering 429)")
    group.add_argument(
        "--throttle-rate",
        type=float,
        default=None,
        metavar="R",
        help="allow R requests per second (default: no throttling)",
    )
    group.add_argument(
        "--throttle-burst", type=float, default=None, metavar="B", help="bucket size (default R)"
    )
    group.add_argument(
        "--throttle-no-retry-after",
        action="store_true",
        help="answer 429 without a Retry-After header",
    )
    group.add_argument(
        "--throttle-headers",
        action="store_true",
        help="send X-RateLimit-Limit/-Remaining/-Reset on every answer",
    )
    group.add_argument(
        "--throttle-schedule",
        type=parse_schedule,
        default=(),
        metavar="T:R,…",
        help="change the rate to R at T seconds after the first request (e.g. 10:30,20:100)",
    )
    group.add_argument(
        "--throttle-methods",
        default=None,
        metavar="METHOD,…",
        help="throttle only these methods, e.g. POST (default: all)",
    )


def throttle_from_args(args: argparse.Namespace) -> Throttle | None:
    """The ``Throttle`` the parsed ``--throttle-*`` options ask for (``None``: none).

    Raises:
        ValueError: The options do not make a valid throttle.
    """
    if args.throttle_rate is None:
        if args.throttle_schedule or args.throttle_headers or args.throttle_burst is not None:
            raise ValueError("--throttle-* options need --throttle-rate")
        return None
    if args.throttle_burst is not None and not args.throttle_burst >= 1:
        raise ValueError("--throttle-burst must be >= 1")
    methods = None
    if args.throttle_methods:
        methods = [m.strip() for m in args.throttle_methods.split(",") if m.strip()]
    return Throttle(
        rate=args.throttle_rate,
        burst=args.throttle_burst,
        retry_after=not args.throttle_no_retry_after,
        headers=args.throttle_headers,
        schedule=args.throttle_schedule,
        methods=methods,
    )
