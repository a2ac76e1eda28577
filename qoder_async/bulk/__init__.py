"""Bulk operations: archive, pause or unpause many deployments at once, safely.

The guarantees, in order of importance:

* **Exactly one outcome per id, no change applied twice.** Duplicate ids are dropped;
  each id gets one logical call, whose retries all carry the same ``Idempotency-Key``.
  A 409 is checked with a GET: an id already in the target state is a success
  (``already_archived``), anything else is an honest failure. When the last attempt
  ended ambiguously (a reset or a lost/truncated response), a GET tells whether the
  change landed before the id is reported failed.
* **Bounded, throttle-aware concurrency.** At most ``concurrency`` calls are in flight;
  when the API throttles (429, 503, connection resets) the whole batch pauses and the
  limit drops, then climbs back one step per round of successes (AIMD). An optional
  ``rate_limit`` caps calls per second (the API's documented write budget is 20/s).
* **Bounded memory on an unbounded source.** The source is read only when a slot is
  free, so an async iterable (e.g. a filtered ``list()``) is never drained ahead.
* **Clean cancellation.** Cancelling stops launching, cancels what is in flight and
  waits for it, and leaves ``job.report`` saying which ids were done and which were
  interrupted mid-call (their state is unknown).
"""

from qoder_async.bulk._job import BULK_RETRY, BulkJob, BulkOperation
from qoder_async.bulk._limit import AdaptiveLimit
from qoder_async.bulk._report import BulkReport, ItemOutcome, Outcome

__all__ = [
    "BULK_RETRY",
    "AdaptiveLimit",
    "BulkJob",
    "BulkOperation",
    "BulkReport",
    "ItemOutcome",
    "Outcome",
]
