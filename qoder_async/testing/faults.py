"""Fault injection plans for the fake server, reproducible from a seed.

A :class:`Fault` says what goes wrong with one request; a :class:`FaultPlan` decides
which requests get which fault: scripted faults per endpoint first ("the next 3 archive
calls reset after applying"), then random faults drawn from a seeded generator.

Faults are applied after authentication. What each kind does:

========================  =====================================================  ========
kind                      what the client observes                               applied?
========================  =====================================================  ========
``rate_limited``          429, JSON envelope, optional ``Retry-After``           no
``unavailable``           503 with a JSON, HTML or empty body                    no
``server_error``          500 ``api_error`` envelope                             no
``reset_before``          connection reset, no response                          no
``reset_after``           connection reset, no response (the response is lost)   yes
``latency``               the normal response, ``seconds`` late                  yes
``truncated_json``        the normal status with the JSON body cut in half       yes
``non_json``              200 with an HTML page (a misbehaving proxy)            no
========================  =====================================================  ========
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["DEFAULT_RANDOM_KINDS", "FAULT_KINDS", "Fault", "FaultKind", "FaultPlan"]

FaultKind = Literal[
    "rate_limited",
    "unavailable",
    "server_error",
    "reset_before",
    "reset_after",
    "latency",
    "truncated_json",
    "non_json",
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
UnavailableBody = Literal["json", "html", "empty"]
#: Faults a well-behaved retrying client is expected to survive; the default mix of a
#: random plan. Corrupt bodies (truncated_json, non_json) must be asked for explicitly.
DEFAULT_RANDOM_KINDS: tuple[FaultKind, ...] = (
    "rate_limited",
    "unavailable",
    "server_error",
    "reset_before",
    "reset_after",
)
ANY_ENDPOINT = "*"


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure. Build it with the constructors, e.g. ``Fault.reset_after()``."""

    kind: FaultKind
    retry_after: float | str | None = None
    body: UnavailableBody = "json"
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.body not in ("json", "html", "empty"):
            raise ValueError("body must be 'json', 'html' or 'empty'")
        if self.seconds < 0:
            raise ValueError("seconds must be >= 0")
        if isinstance(self.retry_after, int | float) and self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = None) -> Fault:
        """429. ``retry_after``: seconds, an HTTP date string, or None for no header."""
        return cls("rate_limited", retry_after=retry_after)

    @classmethod
    def unavailable(
        cls, retry_after: float | str | None = None, body: UnavailableBody = "json"
    ) -> Fault:
        """503 with a JSON envelope, a gateway HTML page, or no body at all."""
        return cls("unavailable", retry_after=retry_after, body=body)

    @classmethod
    def server_error(cls) -> Fault:
        """500 ``api_error``; nothing is applied."""
        return cls("server_error")

    @classmethod
    def reset_before(cls) -> Fault:
        """Close the connection with no response before the change is applied."""
        return cls("reset_before")

    @classmethod
    def reset_after(cls) -> Fault:
        """Apply the change, then close the connection with no response."""
        return cls("reset_after")

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Answer normally, ``seconds`` late."""
        return cls("latency", seconds=seconds)

    @classmethod
    def truncated_json(cls) -> Fault:
        """Apply the change, then send the JSON body cut in half."""
        return cls("truncated_json")

    @classmethod
    def non_json(cls) -> Fault:
        """Answer 200 with an HTML page instead of JSON; nothing is applied."""
        return cls("non_json")

    @classmethod
    def of(cls, kind: FaultKind | Fault) -> Fault:
        """A fault from its kind name with default parameters (latency: 50 ms)."""
        if isinstance(kind, Fault):
            return kind
        return cls(kind, seconds=0.05 if kind == "latency" else 0.0)


class FaultPlan:
    """Which requests fail and how.

    Args:
        seed: seeds the private random generator; the same seed and the same sequence
            of requests give the same faults.
        rate: probability in [0, 1] that an eligible request gets a random fault.
        kinds: faults (or kind names) to draw from; default :data:`DEFAULT_RANDOM_KINDS`.
        endpoints: endpoint names eligible for random faults (e.g. ``{"deployments.archive"}``);
            None means every endpoint.
        latency: seconds added to every request (on top of any fault).
        script: initial scripted faults, as for :meth:`script`.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        rate: float = 0.0,
        kinds: Iterable[Fault | FaultKind] | None = None,
        endpoints: Iterable[str] | None = None,
        latency: float = 0.0,
        script: Mapping[str, Iterable[Fault]] | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if latency < 0:
            raise ValueError("latency must be >= 0")
        self.seed = seed
        self.rate = rate
        self.kinds: tuple[Fault, ...] = tuple(
            Fault.of(kind) for kind in (DEFAULT_RANDOM_KINDS if kinds is None else kinds)
        )
        if rate > 0 and not self.kinds:
            raise ValueError("kinds must not be empty when rate > 0")
        self.endpoints: frozenset[str] | None = None if endpoints is None else frozenset(endpoints)
        self.latency = latency
        #: Every fault handed out, in order, as ``(endpoint, fault)``.
        self.history: list[tuple[str, Fault]] = []
        self._random = random.Random(seed)
        self._scripts: dict[str, deque[Fault]] = {}
        for endpoint, faults in (script or {}).items():
            self.script(endpoint, faults)

    def script(self, endpoint: str, faults: Iterable[Fault]) -> FaultPlan:
        """Queue ``faults`` for the next calls of ``endpoint`` (``"*"``: any endpoint).

        Scripted faults are used one per call, in order, before any random fault.
        Returns the plan, so calls can be chained.
        """
        queue = self._scripts.setdefault(endpoint, deque())
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"expected a Fault, got {fault!r}")
            queue.append(fault)
        return self

    def pending(self, endpoint: str | None = None) -> int:
        """Scripted faults not used yet (for one endpoint, or all)."""
        if endpoint is not None:
            return len(self._scripts.get(endpoint, ()))
        return sum(len(queue) for queue in self._scripts.values())

    def clear(self) -> None:
        """Drop every scripted fault and stop random faults."""
        self._scripts.clear()
        self.rate = 0.0

    def next_fault(self, endpoint: str) -> Fault | None:
        """The fault for the next request to ``endpoint``, or None (consumes it)."""
        fault: Fault | None = None
        for key in (endpoint, ANY_ENDPOINT):
            queue = self._scripts.get(key)
            if queue:
                fault = queue.popleft()
                break
        else:
            if (
                self.rate > 0.0
                and (self.endpoints is None or endpoint in self.endpoints)
                and self._random.random() < self.rate
            ):
                fault = self._random.choice(self.kinds)
        if fault is not None:
            self.history.append((endpoint, fault))
        return fault

    def __repr__(self) -> str:
        return (
            f"FaultPlan(seed={self.seed!r}, rate={self.rate!r}, "
            f"kinds={[fault.kind for fault in self.kinds]!r}, latency={self.latency!r}, "
            f"pending={self.pending()})"
        )
