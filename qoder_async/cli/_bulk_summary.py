"""What ``bulk-archive`` prints when it ends: the summary, the failures, the resume hint."""

from __future__ import annotations

import argparse
import sys

from qoder_async.bulk import BulkReport, Outcome
from qoder_async.cli._output import (
    bulk_summary,
    bulk_summary_rows,
    format_count,
    format_summary,
    print_json_line,
)
from qoder_async.cli._runtime import scrub

__all__ = ["MAX_FAILURES_SHOWN", "plural", "print_report"]

MAX_FAILURES_SHOWN = 20


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 deployment``, ``2 deployments``, ``1,000 retries`` (with ``plural_form``)."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


def print_report(
    args: argparse.Namespace, report: BulkReport, *, duplicates: int, resumed: int
) -> None:
    """The summary (JSON line or table), the failures, and a resume hint when it helps.

    ``duplicates`` and ``resumed`` count the ids dropped before the job: repeated in
    the input, and final per ``--results``.
    """
    duplicates += report.duplicates
    if args.json:
        summary = {
            "type": "summary",
            **report.as_dict(),
            **bulk_summary(report),
            "duplicates": duplicates,
            "skipped_done": resumed,
        }
        print_json_line(summary, sys.stdout)
        return
    extra = [("skipped", format_count(resumed), "(final per --results)")] if args.resume else []
    print(format_summary(bulk_summary_rows(report, extra=extra, duplicates=duplicates)))
    failures = report.failed
    # The not-attempted ids all share the one error printed last: listing them says nothing.
    listed = [item for item in failures if item.outcome is not Outcome.NOT_ATTEMPTED]
    for item in listed[:MAX_FAILURES_SHOWN]:
        error = f": {item.error}" if item.error is not None else ""
        print(f"  {item.outcome} {item.id}{scrub(error)}", file=sys.stderr)
    if len(listed) > MAX_FAILURES_SHOWN:
        print(f"  … and {len(listed) - MAX_FAILURES_SHOWN:,} more", file=sys.stderr)
    if not failures:
        return
    line = f"{len(failures):,} of {plural(len(report.outcomes), 'deployment')} not archived"
    # Only what another run can change is worth a resume: not_found is final.
    retryable = sum(1 for item in failures if not item.outcome.final)
    if not retryable:
        print(f"{line} (not found: nothing to retry)", file=sys.stderr)
    elif args.results:
        print(
            f"{line}; re-run with --results {args.results} --resume to retry the "
            f"{plural(retryable, 'id')} left",
            file=sys.stderr,
        )
    else:
        print(
            f"{line}; use --results FILE to record outcomes and --resume to retry only the rest",
            file=sys.stderr,
        )
