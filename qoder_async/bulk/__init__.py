"""Bulk operations: archive, pause or unpause many deployments at once, safely.

The guarantees, in order of importance:

* **Exactly one outcome per id, no change applied twice.** Duplicate ids are dropped;
  each id gets one logical call, whose retries all carry the same ``Idempotency-Key``.
  A 409 is checked with a GET: an id already in the target state is a success
  (``already_archived``), anything else is an honest failure. When the last attempt
  ended ambiguously (a reset or a lost/truncated response), a GET tells whether the
  change landed before the id is reported failed.
* **Stops when it must.** A 401 or 403 stops the job at once, and so do connection
  attempts that keep failing against a host that never answered: the ids it had not
  reached end ``not_attempted``, ``report.stopped`` holds the one error, and awaiting
  the job raises it.
* **Fixed concurrency, client-wide throttling.** At most ``concurrency`` calls are in
  flight; every call goes through the client's public ``DeploymentsAPI`` (with
  ``BULK_RETRY``), so throttling is handled where every call of the client is. An
  optional ``rate_limit`` paces this job's calls to a fixed number per second.
* **Bounded memory.** The source is read only when a slot is free, so an async
  iterable (e.g. a filtered ``list()``) is never drained ahead; an outcome keeps its
  error without the traceback (well under 1 KiB per id).
* **Clean cancellation.** Cancelling stops launching, cancels what is in flight and
  waits for it, and leaves ``job.report`` saying which ids were done and which were
  interrupted mid-call (their state is unknown).
"""

from qoder_async.bulk._job import BULK_RETRY, BulkJob
from qoder_async.bulk._operations import ARCHIVE, PAUSE, UNPAUSE, BulkOperation
from qoder_async.bulk._report import BulkReport, ItemOutcome, Outcome

__all__ = [
    "ARCHIVE",
    "BULK_RETRY",
    "PAUSE",
    "UNPAUSE",
    "BulkJob",
    "BulkOperation",
    "BulkReport",
    "ItemOutcome",
    "Outcome",
]
