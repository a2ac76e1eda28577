"""A one-line live progress bar for bulk work on a terminal (stdlib only).

It redraws in place with ``\\r`` at most ten times a second from a background task, so
the cost per finished item is one counter increment. On anything that is not a terminal
it can instead print a plain line every ``log_every`` seconds, so logs and CI output
show that a long run is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "format_duration"]

REFRESH_SECONDS = 0.1
RATE_WINDOW_SECONDS = 3.0


def format_duration(seconds: float) -> str:
    """``75.2`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    whole = max(0, int(seconds + 0.5))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts finished items and, when enabled, draws ``[####....] n/total rate ETA``.

    Args:
        stream: Where to draw (stderr); nothing is drawn unless ``enabled``.
        label: Shown first on the line, e.g. ``archive``.
        total: Items expected, or ``None`` when the source is lazy (no bar, no ETA).
        enabled: Draw at all (the caller passes ``stream.isatty()``).
        status: Extra text appended to the line, e.g. the calls in flight.
        log_every: When not ``enabled``, print the line (with a newline) every this many
            seconds; ``None``: print nothing.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        total: int | None,
        enabled: bool,
        status: Callable[[], str] | None = None,
        log_every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.enabled = enabled
        self.done = 0
        self.failed = 0
        self._status = status
        self._log_every = log_every
        self._clock = clock
        self._started = clock()
        # (time, done) samples for a rate over the last few seconds, not since the start,
        # so the ETA follows the API slowing down or recovering.
        self._samples: deque[tuple[float, int]] = deque(maxlen=64)
        self._samples.append((self._started, 0))
        self._task: asyncio.Task[None] | None = None
        self._unicode = "utf" in (getattr(stream, "encoding", None) or "").lower()

    def advance(self, *, ok: bool = True) -> None:
        """One more item finished."""
        self.done += 1
        if not ok:
            self.failed += 1

    def rate(self) -> float:
        """Items per second over the recent window."""
        now = self._clock()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_SECONDS:
            self._samples.popleft()
        then, done_then = self._samples[0]
        elapsed = now - then
        return (self.done - done_then) / elapsed if elapsed > 0 else 0.0

    def render(self, width: int = 100) -> str:
        """The progress line (without ``\\r``), at most ``width - 1`` characters."""
        rate = self.rate()
        elapsed = self._clock() - self._started
        parts = [self.label]
        if self.total:
            fraction = min(1.0, self.done / self.total)
            bar_width = 24
            filled = int(fraction * bar_width)
            full, empty = ("█", "░") if self._unicode else ("#", ".")
            parts.append(f"[{full * filled}{empty * (bar_width - filled)}]")
            parts.append(f"{self.done:,}/{self.total:,} {fraction:4.0%}")
        else:
            parts.append(f"{self.done:,} done")
        parts.append(f"{rate:,.0f}/s")
        if self.total and self.done < self.total:
            eta = format_duration((self.total - self.done) / rate) if rate > 0 else "?"
            parts.append(f"ETA {eta}")
        else:
            parts.append(f"elapsed {format_duration(elapsed)}")
        if self.failed:
            parts.append(f"not ok {self.failed:,}")
        if self._status is not None:
            parts.append(self._status())
        line = "  ".join(parts)
        return line[: max(10, width - 1)]

    def draw(self) -> None:
        """Redraw the line in place (no-op when disabled)."""
        if not self.enabled:
            return
        width = shutil.get_terminal_size((100, 24)).columns
        # \x1b[K clears what a longer previous line left behind.
        self.stream.write("\r" + self.render(width) + "\x1b[K")
        self.stream.flush()

    async def _refresh(self) -> None:
        while True:  # ended by cancellation in __aexit__
            self.draw()
            await asyncio.sleep(REFRESH_SECONDS)

    async def _log(self, every: float) -> None:
        while True:  # ended by cancellation in __aexit__
            await asyncio.sleep(every)
            self.stream.write(self.render() + "\n")
            self.stream.flush()

    async def __aenter__(self) -> Progress:
        if self.enabled:
            self._task = asyncio.create_task(self._refresh())
        elif self._log_every:
            self._task = asyncio.create_task(self._log(self._log_every))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.enabled:
            self.draw()
            self.stream.write("\n")
            self.stream.flush()
