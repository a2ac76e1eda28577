"""What a bulk job learns from each attempt: counts, throttling, and a dead host.

``AttemptWatch`` is a per-attempt middleware (installed with ``with_options``) that
reports every attempt's end to the job. Each id's calls run in their own task, so the
job keeps one ``Track`` per task: how many attempts the id cost and whether any of them
may have changed the deployment (which decides, should the job stop, whether the id was
"not attempted" or "interrupted").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

from qoder_async._messages import Request, Response
from qoder_async.errors import APIConnectionError, APIStatusError, QoderError
from qoder_async.middleware import Handler

__all__ = ["BREAKER_THRESHOLD", "AttemptWatch", "Breaker", "Track", "may_have_landed"]

BREAKER_THRESHOLD = 10
"""Failed connection attempts, with no answer from the host ever, that stop a job."""


class Track:
    """One id's attempts so far."""

    __slots__ = ("attempts", "id", "in_attempt", "landed")

    def __init__(self, deployment_id: str) -> None:
        self.id = deployment_id
        self.attempts = 0
        self.in_attempt = False
        self.landed = False

    @property
    def untouched(self) -> bool:
        """True when nothing sent for this id can have changed the deployment."""
        return not self.landed and not self.in_attempt


def may_have_landed(error: BaseException | None) -> bool:
    """Whether an attempt that ended with ``error`` may have applied its change."""
    if error is None:
        return True
    if isinstance(error, APIConnectionError):
        return error.maybe_sent
    if isinstance(error, APIStatusError):
        # A 4xx is an answer that nothing was applied (a 408 may not be).
        return error.status == 408 or error.status >= 500
    return True


class Breaker:
    """Trips when connection attempts keep failing and the host has never answered.

    A host that answered once is up: its later connection errors are left to the
    retries. One that never did (a wrong URL, a closed port, a dead VPN) would
    otherwise cost every id its full retry deadline.
    """

    def __init__(self, threshold: int = BREAKER_THRESHOLD) -> None:
        self.threshold = threshold
        self.answered = False
        self.failures = 0

    def observe(self, error: BaseException | None) -> QoderError | None:
        """Count one attempt's end; the error to stop the job with when it trips."""
        if not isinstance(error, APIConnectionError):
            self.answered = True
            return None
        if self.answered:
            return None
        self.failures += 1
        if self.failures != self.threshold:
            return None
        host = _origin(error.request)
        return APIConnectionError(
            f"{self.failures} connection attempts to {host} failed and it never answered; "
            f"the bulk job stopped (last: {error.message})",
            maybe_sent=False,
        )


def _origin(request: Request | None) -> str:
    if request is None:
        return "the API host"
    parts = urlsplit(request.url)
    return f"{parts.scheme}://{parts.netloc}"


class AttemptWatch:
    """Per-attempt middleware telling a bulk job how each attempt ended.

    Args:
        on_end: Called with the attempt's ``Track`` (``None`` outside a job's task) and
            its error (``None`` on success).
        tracks: The job's tracks, by the task that runs each id.
    """

    __slots__ = ("_on_end", "_tracks")

    def __init__(
        self,
        on_end: Callable[[Track | None, BaseException | None], None],
        tracks: dict[asyncio.Task[None], Track],
    ) -> None:
        self._on_end = on_end
        self._tracks = tracks

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        """Run the attempt and report how it ended."""
        task = asyncio.current_task()
        track = self._tracks.get(task) if task is not None else None
        if track is not None:
            track.attempts += 1
            track.in_attempt = True
        try:
            response = await call_next(request)
        except Exception as error:
            self._ended(track, error)
            raise
        self._ended(track, None)
        return response

    def _ended(self, track: Track | None, error: BaseException | None) -> None:
        if track is not None:
            track.in_attempt = False
            track.landed = track.landed or may_have_landed(error)
        self._on_end(track, error)
