"""The CLI's derived bulk figures say what the job did, not what it skipped."""

from __future__ import annotations

from qoder_async.bulk import BulkReport, ItemOutcome, Outcome
from qoder_async.cli._output import bulk_summary


def test_throughput_counts_only_the_ids_the_job_reached() -> None:
    report = BulkReport(action="archive", elapsed=2.0, attempts=4)
    for number in range(4):
        item = ItemOutcome(id=f"dep_{number}", outcome=Outcome.ARCHIVED, attempts=1)
        report.outcomes[item.id] = item
    for number in range(4, 1004):  # a job stopped by a 401 never reached these
        report.outcomes[f"dep_{number}"] = ItemOutcome(
            id=f"dep_{number}", outcome=Outcome.NOT_ATTEMPTED
        )
    assert bulk_summary(report)["throughput_per_s"] == 2.0
