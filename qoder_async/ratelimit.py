"""Client-wide rate control: every attempt through one client takes a token from here.

``RateController`` is a per-attempt middleware placed between the retry layer and auth,
so each attempt of every call (bulk jobs, ``asyncio.gather`` loops, retries) is paced by
the same controller; clients made with ``with_options`` share it. Reads (GET, HEAD,
OPTIONS) and writes have separate buckets, learned independently, so a limit on writes
does not slow reads down.

A bucket does nothing until the server first pushes back (a 429 or 503) or sends
``X-RateLimit-*`` headers: on the unthrottled hot path it only counts (no clock read, no
lock, no wait). Then:

* A 429 means the server's bucket is empty at that moment, so the requests it accepted
  between two 429s, divided by the time between them, estimate its allowed rate to
  within one request either way. The bucket paces a little under the low end of that,
  then ramps up convexly: gently up to the high end (a wide span after a short count,
  such as a slow start's, so that a rough estimate is neither overshot nor outgrown),
  then doubling, so a limit that rose is found within seconds. The gentle part spans as
  many requests as the estimate was measured over (up to ``RAMP_REQUESTS``, 3-6 s):
  each probe above the limit costs about one 429, so at low rates it is paid per
  hundred requests, not every few seconds.
* With no usable earlier 429 (the first one, or one long ago, when the server's bucket
  may have refilled to its cap and the count would mislead) it starts over with a short
  slow start (doubling every 100 ms) from a rate known to be safe; the next 429 gives a
  clean estimate. 429s for requests sent before a cut are the overflow's aftermath and
  teach nothing (after the first one, all requests that were in flight unpaced).
* An estimate well above the last one means the limit rose (or the last was no limit):
  a slow start from the new estimate climbs to it fast. A probe that merely overshot
  by the server's saved-up burst is not mistaken for a rise: only the count decides.
* A limit that falls shows as most requests refused: the pace is cut at once to the
  share let through. 429s on a few percent of requests whatever the pace (strays, not
  a limit) are recognised by coming while the pace is under the estimate, and ignored.
* ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (Limit read as requests per second,
  Reset as seconds until the server's bucket is full) set the pace directly:
  ``Limit + (Remaining - requests in flight) / Reset``, so a client that knows where the
  limit is need not hit it.
* ``Retry-After`` is left to the retry layer: it delays only the request that got it.
  Here a 429 is a rate signal like any other, never a stall of every call.

``rate_limit=<number>`` instead paces at that fixed rate (per class) and learns nothing.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from qoder_async._messages import Request, Response
from qoder_async.errors import APIStatusError
from qoder_async.middleware import Handler

__all__ = ["RateController", "RateLimit"]

RateLimit = Literal["auto"] | float | None
"""``QoderClient(rate_limit=...)``: ``"auto"`` (adaptive), a fixed requests/s, or ``None``."""

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_THROTTLE_STATUSES = frozenset({429, 503})

BACKOFF = 0.97
"""Pace at this fraction of the estimated allowed rate after a cut."""
START_RATE = 8.0
"""Requests/s a slow start begins at when nothing better is known."""
SLOW_START_DOUBLING = 0.1
"""Seconds per doubling of the rate during a slow start."""
RAMP_SECONDS = 3.0
"""Shortest length in seconds of the gentle (quadratic) part of the ramp after a cut."""
RAMP_REQUESTS = 100.0
"""Requests at least that the gentle part of the ramp spans: at low rates it lasts longer,
so probing costs about one 429 per this many requests, not one per few seconds."""
RAMP_LONGEST = 6.0
"""Longest length in seconds of the gentle part (a probe must come well within ``STALE``)."""
RAMP_TOP = 1.06
"""Rate at the end of the gentle ramp, as a multiple of the rate after the cut."""
PROBE_DOUBLING = 0.35
"""Seconds per doubling of the rate once the gentle ramp is over (the limit rose)."""
GROWTH = 1.25
"""An estimate this much above the last one means the last was not the server's limit."""
MIN_WINDOW = 0.2
"""Seconds at least between the two 429s an estimate is taken from."""
MIN_ACCEPTED = 10
"""Accepted requests at least between the two 429s an estimate is taken from."""
STALE = 8.0
"""An earlier 429 older than this says nothing reliable about the rate now."""
SLOW_START_ACCEPTED = 4
"""Accepted requests at least for an estimate at the end of a slow start (its start
was a 429, so the count is clean, only short)."""
QUIET = 0.5
"""Seconds without a request that make a count since the last 429 unusable."""
NOISE = 0.2
"""429s on fewer than this share of recent requests may be strays, not a limit."""
REFUSED_WEIGHT = 0.05
"""Weight of the latest answer in the moving share of 429s."""
REFUSED_MOSTLY = 0.5
"""A recent share of 429s above this cuts the pace to the share let through."""
SETTLE = 0.5
"""Seconds after a cut during which 429s are still the overflow's aftermath."""
UNPACED = 20_000.0
"""A rate at or above this stops pacing (back to the do-nothing fast path)."""


class _Bucket:
    """Pacing and rate learning for one class of requests (reads or writes)."""

    __slots__ = (
        "_anchor",
        "_base",
        "_clock",
        "_estimate",
        "_fixed",
        "_gap",
        "_gentle",
        "_last_sent",
        "_lock",
        "_next",
        "_phase",
        "_sleep",
        "_strays",
        "_t0",
        "_top",
        "accepted",
        "in_flight",
        "paced",
        "refused",
        "throttled",
    )

    def __init__(
        self,
        fixed: float | None,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._fixed = fixed
        self.paced = fixed is not None
        self.accepted = 0
        self.throttled = 0
        self.in_flight = 0
        self._lock = asyncio.Lock()
        self._next = 0.0
        # The longest time no request left since the anchor, and when the last one did:
        # a count spanning a quiet spell underestimates (the server's bucket filled up).
        self._gap = 0.0
        self._last_sent = 0.0
        # The rate is a function of time: base and start of a phase ("fixed", "slow"
        # start, gentle "ramp" then probe, or "header" pace).
        self._phase = "fixed"
        self._base = fixed or 0.0
        self._t0 = 0.0
        self._top = RAMP_TOP
        self._gentle = RAMP_SECONDS
        # (time, accepted, throttled) at the last 429 an estimate may start from.
        self._anchor: tuple[float, int, int] | None = None
        self._estimate: float | None = None
        # 429s below the estimate since the last cut, and the recent share of 429s.
        self._strays = 0
        self.refused = 0.0

    def rate(self, now: float) -> float:
        """Requests per second to pace at, at time ``now``."""
        phase, base, since = self._phase, self._base, now - self._t0
        if phase == "slow":
            rate = base * 2.0 ** (since / SLOW_START_DOUBLING)
        elif phase == "ramp":
            gentle = self._gentle
            if since <= gentle:
                rate = base * (1.0 + (self._top - 1.0) * (since / gentle) ** 2)
            else:
                rate = base * self._top * 2.0 ** ((since - gentle) / PROBE_DOUBLING)
        else:
            rate = base
        return min(float(rate), UNPACED)

    async def acquire(self) -> float:
        """Wait for this request's turn at the current pace (first come, first served).

        Returns the time it was let through.
        """
        async with self._lock:
            now = self._clock()
            slot = self._next
            if slot > now:
                await self._sleep(slot - now)
                now = self._clock()
            quiet = now - self._last_sent
            if quiet > QUIET and self._phase == "slow":
                self._t0 = now  # a slow start doubles while requests go, not while idle
            self._gap = max(self._gap, quiet)
            self._last_sent = now
            rate = self.rate(now)
            if rate >= UNPACED:
                self.paced = False
                return now
            interval = 1.0 / rate
            # Oversleeping by a timer tick must not lower the pace: count from the slot
            # unless the bucket sat idle longer than one interval.
            self._next = (slot if now - slot < interval else now) + interval
            return now

    def _set(
        self, phase: str, base: float, now: float, top: float = RAMP_TOP, measured: float = 0.0
    ) -> None:
        """Start ``phase`` at ``base`` requests/s; a ramp rises to ``top`` times that over as
        many requests as the estimate was ``measured`` from (up to ``RAMP_REQUESTS``)."""
        self._phase, self._base, self._t0, self._top = phase, max(base, 0.1), now, top
        span = min(measured, RAMP_REQUESTS) / self._base
        self._gentle = min(max(RAMP_SECONDS, span), RAMP_LONGEST)
        self._strays = 0
        if not self.paced:
            self.paced = True
            self._next = now
        if phase != "header":
            # The server's bucket was empty just now: give it one interval to refill.
            self._next = max(self._next, now + 1.0 / self._base)

    def on_throttle(self, now: float, sent: float) -> None:
        """A 429 or 503 for a request let through at ``sent``: learn, cut the pace."""
        if self._fixed is not None:
            return
        self.throttled += 1
        self.refused += REFUSED_WEIGHT * (1.0 - self.refused)
        if self.paced and sent < self._t0:
            return  # sent before the last cut: the overflow that cut was answered already
        anchor = self._anchor
        if (
            anchor is None
            or not self.paced
            or self._phase == "header"
            or now - anchor[0] > STALE
            or self._gap > QUIET
        ):
            # Nothing recent to measure from: the server's bucket may have filled to its
            # cap since, so a count would mislead. A short slow start finds the rate.
            start = START_RATE
            if anchor is not None and now > anchor[0]:
                start = max(START_RATE, (self.accepted - anchor[1]) / (now - anchor[0]) / 2.0)
            self._set("slow", start, now)
            self._reanchor(now)
            return
        since = now - anchor[0]
        count = self.accepted - anchor[1]
        rate = self.rate(now)
        if self._phase == "ramp" and self.refused < NOISE:
            # Few recent 429s: a lowered limit would refuse most requests. Below the
            # estimated limit this is a stray 429; above it, it is one too when strays
            # came before it in this cycle (the server refuses some whatever the pace).
            if rate * BACKOFF < self._base:
                if now - self._t0 > SETTLE:
                    self._strays += 1
                return
            if self._strays:
                return
        if self._phase == "slow" and self.refused < NOISE:
            return  # an overshooting slow start is refused in a run, not once in a while
        if self._phase == "slow" and count < SLOW_START_ACCEPTED:
            # A slow start overshot before there was enough to measure: go on from
            # half the rate; a later 429 will measure (the anchor stays).
            self._set("slow", rate / 2.0, now)
            return
        if self._phase != "slow" and (count < MIN_ACCEPTED or since < MIN_WINDOW):
            if self.refused > REFUSED_MOSTLY:
                # Most requests sent since the cut are refused (the limit fell): the
                # share let through is a first estimate, no need to wait for a count.
                self._set("ramp", rate * (1.0 - self.refused), now)
                self.refused = 0.0
                self._reanchor(now)
            return  # too few accepted since the last 429 to measure: wait for more
        estimate = count / since
        previous, self._estimate = self._estimate, estimate
        if previous is not None and estimate > GROWTH * previous:
            # More got through than the last estimate said could: the limit rose (so the
            # count mixes two limits), or the last was no limit (a stray 429 measured our
            # own pace). Start over from the last rate known to pass and climb fast; the
            # next 429 measures the new limit.
            self._set("slow", estimate * BACKOFF, now)
        else:
            # The server's bucket held under one token at each 429, so the limit lies
            # within one request of the count: pace from the low end, and let the gentle
            # ramp span up to the high end (a short count is a wide span), so that an
            # estimate from a few requests is neither overshot nor outgrown by the ramp.
            spread = (count + 1) / (count - 1)
            self._set("ramp", (count - 1) / since * BACKOFF, now, RAMP_TOP * spread, count)
        self._reanchor(now)

    def _reanchor(self, now: float) -> None:
        self._anchor = (now, self.accepted, self.throttled)
        self._gap = 0.0
        self._last_sent = max(self._last_sent, now)

    def on_headers(self, limit: float, remaining: float, reset: float, now: float) -> None:
        """``X-RateLimit-*`` say where the server's bucket is: pace from them."""
        if self._fixed is not None:
            return
        pace = limit + (remaining - self.in_flight) / max(reset, 0.05)
        self._set("header", max(pace, limit * 0.1), now)


class RateController:
    """Paces every attempt of one client; learns the allowed rate (see the module doc).

    Args:
        rate_limit: ``"auto"`` to learn the rate from the server, or a fixed number of
            requests per second (for reads and for writes, each).
        clock: Monotonic seconds (inject one in tests).
        sleep: The async sleep used for pacing (inject one in tests).
    """

    __slots__ = ("_clock", "_read", "_write", "mode")

    def __init__(
        self,
        rate_limit: Literal["auto"] | float = "auto",
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate_limit == "auto":
            fixed = None
        elif (
            isinstance(rate_limit, int | float)
            and not isinstance(rate_limit, bool)
            and math.isfinite(rate_limit)
            and rate_limit > 0
        ):
            fixed = float(rate_limit)
        else:
            raise ValueError(f"rate_limit must be 'auto', a number > 0 or None, not {rate_limit!r}")
        #: ``"auto"`` or ``"fixed"``.
        self.mode = "auto" if fixed is None else "fixed"
        self._clock = clock
        self._read = _Bucket(fixed, clock, sleep)
        self._write = _Bucket(fixed, clock, sleep)

    def __repr__(self) -> str:
        return (
            f"RateController({self.mode}, reads={self.rate('read')}, writes={self.rate('write')})"
        )

    def rate(self, kind: Literal["read", "write"]) -> float | None:
        """The pace in requests/s for ``kind`` right now (``None``: not pacing)."""
        bucket = self._read if kind == "read" else self._write
        if not bucket.paced:
            return None
        return bucket.rate(self._clock())

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        """Take a token, send, and learn from the answer."""
        bucket = self._read if request.method in _READ_METHODS else self._write
        sent = await bucket.acquire() if bucket.paced else 0.0
        bucket.in_flight += 1
        try:
            response = await call_next(request)
        except APIStatusError as error:
            bucket.in_flight -= 1
            headers = getattr(error, "headers", None)
            if headers and _learn_headers(bucket, headers, self._clock):
                raise  # the headers said where the limit is: nothing to guess
            if error.status in _THROTTLE_STATUSES:
                bucket.on_throttle(self._clock(), sent)
            else:
                bucket.accepted += 1  # it passed the gateway: the server spent a token
            raise
        except BaseException:
            bucket.in_flight -= 1
            raise
        bucket.in_flight -= 1
        bucket.accepted += 1
        # Every answer moves the share of 429s, paced or not: a share that only rose
        # while unpaced would turn a few stray 429s into a "limit" that is not there.
        bucket.refused *= 1.0 - REFUSED_WEIGHT
        headers = response.headers
        # aiohttp's headers match any case; a plain dict (MockTransport) is checked for
        # the two usual spellings, not scanned on every response.
        if "X-RateLimit-Limit" in headers or "x-ratelimit-limit" in headers:
            _learn_headers(bucket, headers, self._clock)
        return response


def _learn_headers(bucket: _Bucket, headers: Mapping[str, str], clock: Callable[[], float]) -> bool:
    """Pace ``bucket`` from ``X-RateLimit-*`` headers; whether they were usable."""
    values: dict[str, float] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith("x-ratelimit-"):
            try:
                values[lowered[12:]] = float(value)
            except ValueError:
                return False
    limit, remaining, reset = values.get("limit"), values.get("remaining"), values.get("reset")
    if limit is None or remaining is None or reset is None:
        return False
    if not (limit > 0 and remaining >= 0 and reset >= 0 and math.isfinite(limit + reset)):
        return False
    bucket.on_headers(limit, remaining, reset, clock())
    return True
