"""The adaptive concurrency limit of a bulk job."""

from __future__ import annotations

__all__ = ["AdaptiveLimit"]


class AdaptiveLimit:
    """Additive-increase / multiplicative-decrease concurrency limit.

    Throttling cuts the limit to 70 % (at most once per ``cooldown`` seconds, so one
    burst of 429s counts once); every ``limit`` successes in a row raise it by one.
    """

    def __init__(self, maximum: int, *, minimum: int = 1, cooldown: float = 0.5) -> None:
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self.limit = maximum
        self.lowest = maximum
        self._cooldown = cooldown
        self._last_cut = -cooldown
        self._streak = 0

    def on_success(self) -> None:
        """One call went through unthrottled."""
        self._streak += 1
        if self._streak >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self._streak = 0

    def on_throttle(self, now: float) -> None:
        """The API throttled a call."""
        self._streak = 0
        if now - self._last_cut < self._cooldown:
            return
        self._last_cut = now
        self.limit = max(self.minimum, int(self.limit * 0.7))
        self.lowest = min(self.lowest, self.limit)
