"""``bulk-archive``: archive many deployments with progress, confirmation and resume.

Where the ids come from (exactly one): arguments, ``--file`` (``-`` for stdin), stdin
when it is piped, or a filter (``--agent-id``, ``--status``, ``--name-prefix``,
``--created-after``, ``--created-before``) that walks ``deployments.list()`` lazily.

Safety rails: ``--dry-run`` sends no write; more than ``CONFIRM_ABOVE`` ids need a
"yes" typed on the terminal or ``--yes``; ``--results`` appends one JSON line per
outcome the moment it is known, and ``--resume`` skips ids that file records as done,
so an interrupted run can be repeated safely.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import IO, Any

from qoder_async import _validation
from qoder_async.bulk import BulkReport, ItemOutcome, Outcome
from qoder_async.cli._output import (
    DEPLOYMENT_HEADERS,
    bulk_summary,
    bulk_summary_rows,
    deployment_row,
    format_count,
    format_summary,
    format_table,
    print_json_line,
)
from qoder_async.cli._progress import Progress
from qoder_async.cli._runtime import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    make_client,
    run_async,
)
from qoder_async.client import QoderClient
from qoder_async.models import Deployment

__all__ = ["CONFIRM_ABOVE", "DESCRIPTION", "cmd_bulk_archive", "read_done_ids"]

CONFIRM_ABOVE = 10
"""Archiving is irreversible: more ids than this need an explicit yes."""
DESCRIPTION = f"""\
Archive many deployments concurrently, backing off when the API throttles.

Ids come from exactly one source: arguments, --file PATH (- for stdin), stdin when it
is piped, or a filter (--agent-id, --status, --name-prefix, --created-after,
--created-before) that walks the deployment list page by page.

Archiving cannot be undone. --dry-run shows what would be archived and sends no
write; more than {CONFIRM_ABOVE} ids need a "y" typed on the terminal, or --yes.
--results PATH appends one JSON line per outcome as it finishes; with --resume the
ids that file records as archived are skipped, so an interrupted run can simply be
run again.

Exit codes: 0 every id archived (or already archived), 1 some not found or failed
(a summary says which), 2 a usage error or a refused confirmation, 130 Ctrl-C (the
outcomes so far are still reported and written to --results)."""
MAX_FAILURES_SHOWN = 20
PAGE_SIZE = 100


class _Tally:
    """Ids dropped before any call: duplicates in the input, and ids done earlier."""

    def __init__(self) -> None:
        self.duplicates = 0
        self.resumed = 0


def read_done_ids(path: str) -> set[str]:
    """Ids a results file records as done (archived or already archived).

    A missing file means nothing is done yet, so the same command line works for the
    first run and for every re-run. Lines that do not parse (a run killed mid-write)
    are ignored: their ids are simply archived again, which is safe.
    """
    done: set[str] = set()
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return done
    except OSError as exc:
        raise UsageError(f"cannot read results file {path}: {exc.strerror or exc}") from None
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
                if Outcome(record["outcome"]).ok:
                    done.add(str(record["id"]))
            except (ValueError, KeyError, TypeError):
                continue
    return done


def _parse_id(text: str, where: str) -> str | None:
    """One id from a line: a bare id, or a JSON object with an ``id`` (JSON lines from
    ``deployments list --json`` pipe straight in). Blank and ``#`` lines are skipped."""
    text = text.strip()
    if not text or text.startswith("#"):
        return None
    if text.startswith("{"):
        try:
            text = str(json.loads(text)["id"])
        except (ValueError, KeyError, TypeError):
            raise UsageError(f'{where}: a JSON line needs an "id" field') from None
    try:
        return _validation.deployment_id(text)
    except ValueError:
        raise UsageError(f"{where}: {text[:80]!r} is not a deployment id (dep_…)") from None


def _read_lines(args: argparse.Namespace) -> Iterable[tuple[str, str]] | None:
    """(where, line) pairs from the chosen explicit source, or None when there is none."""
    if args.ids:
        return ((f"argument {i + 1}", text) for i, text in enumerate(args.ids))
    if args.file is not None and args.file != "-":
        try:
            lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        return ((f"{args.file} line {n}", t) for n, t in enumerate(lines, 1))
    if args.file == "-" or not sys.stdin.isatty():
        return ((f"stdin line {n}", t) for n, t in enumerate(sys.stdin, 1))
    return None


def _explicit_ids(args: argparse.Namespace, done: set[str], tally: _Tally) -> list[str] | None:
    """Deduplicated ids from arguments, a file or stdin, minus the done ones."""
    lines = _read_lines(args)
    if lines is None:
        return None
    seen: set[str] = set()
    ids: list[str] = []
    for where, text in lines:
        deployment_id = _parse_id(text, where)
        if deployment_id is None:
            continue
        if deployment_id in seen:
            tally.duplicates += 1
            continue
        seen.add(deployment_id)
        if deployment_id in done:
            tally.resumed += 1
            continue
        ids.append(deployment_id)
    return ids


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    names = ("agent_id", "status", "name_prefix", "created_after", "created_before")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


async def _matching(
    client: QoderClient, filters: dict[str, Any], done: set[str], tally: _Tally
) -> AsyncIterator[Deployment]:
    """Deployments that match the filter, page by page, as the consumer asks for them."""
    query = {key: value for key, value in filters.items() if key != "name_prefix"}
    prefix: str | None = filters.get("name_prefix")
    async for deployment in client.deployments.list(limit=PAGE_SIZE, **query):
        if prefix is not None and not deployment.name.startswith(prefix):
            continue
        if deployment.id in done:
            tally.resumed += 1
            continue
        yield deployment


async def _collect(
    args: argparse.Namespace, filters: dict[str, Any], done: set[str], tally: _Tally
) -> list[str]:
    async with make_client(args) as client:
        return [d.id async for d in _matching(client, filters, done, tally)]


def _dry_run(
    args: argparse.Namespace,
    ids: list[str] | None,
    filters: dict[str, Any],
    done: set[str],
    tally: _Tally,
) -> int:
    """Show what would be archived: reads the filtered list (if any), never writes."""
    if ids is not None:
        for deployment_id in ids:
            if args.json:
                print_json_line({"id": deployment_id, "would_archive": True}, sys.stdout)
            else:
                print(deployment_id)
        count = len(ids)
    else:

        async def walk() -> int:
            rows: list[tuple[object, ...]] = []
            async with make_client(args) as client:
                async for deployment in _matching(client, filters, done, tally):
                    if args.json:
                        print_json_line(deployment, sys.stdout)
                    else:
                        rows.append(deployment_row(deployment))
            if rows:
                print(format_table(DEPLOYMENT_HEADERS, rows))
            return len(rows)

        count = run_async(walk())
    note = f"; {tally.resumed} already done per the results file" if tally.resumed else ""
    print(
        f"dry run: {count} deployments would be archived{note}; nothing was sent", file=sys.stderr
    )
    return EXIT_OK


def _confirm(count: int) -> bool:
    sys.stderr.write(f"Archive {count:,} deployments? Archiving cannot be undone. [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def cmd_bulk_archive(args: argparse.Namespace) -> int:
    """``bulk-archive``: see the module docstring."""
    filters = _filters(args)
    if filters and (args.ids or args.file is not None):
        raise UsageError("give ids (arguments, --file or stdin) or a filter, not both")
    if args.resume and not args.results:
        raise UsageError("--resume needs --results PATH (the file it reads to skip done ids)")
    done = read_done_ids(args.results) if args.resume else set()
    tally = _Tally()
    ids = None if filters else _explicit_ids(args, done, tally)
    if ids is None and not filters:
        raise UsageError(
            "no deployment ids: pass them as arguments, with --file PATH, on stdin, "
            "or select them with --agent-id / --status / --name-prefix / --created-before"
        )
    if args.dry_run:
        return _dry_run(args, ids, filters, done, tally)
    if not args.yes:
        if ids is None:
            # The confirmed set is the archived set: collect it now, then archive exactly it.
            ids = run_async(_collect(args, filters, done, tally))
        if len(ids) > CONFIRM_ABOVE:
            if not sys.stdin.isatty():
                print(
                    f"error: refusing to archive {len(ids):,} deployments without confirmation:"
                    " stdin is not a terminal; pass --yes to confirm",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            if not _confirm(len(ids)):
                print("aborted; nothing was archived", file=sys.stderr)
                return EXIT_FAILED
    if ids is not None and not ids:
        note = " (all already done per the results file)" if tally.resumed else ""
        print(f"nothing to archive{note}", file=sys.stderr)
        return EXIT_OK
    return run_async(_archive(args, ids, filters, done, tally))


def _open_results(path: str | None) -> IO[str] | None:
    if path is None:
        return None
    try:
        return open(path, "a", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write results file {path}: {exc.strerror or exc}") from None


async def _archive(
    args: argparse.Namespace,
    ids: list[str] | None,
    filters: dict[str, Any],
    done: set[str],
    tally: _Tally,
) -> int:
    results = _open_results(args.results)
    cancelled = False
    try:
        async with make_client(args) as client:
            source = ids if ids is not None else _matching(client, filters, done, tally)
            progress = Progress(
                sys.stderr,
                "archive",
                total=len(ids) if ids is not None else None,
                enabled=sys.stderr.isatty(),
                status=lambda: f"concurrency {job.concurrency}",
            )

            def on_outcome(item: ItemOutcome) -> None:
                progress.advance(ok=item.ok)
                record = item.as_dict()
                if results is not None:
                    # One line per outcome, flushed now: a crash loses at most this line.
                    results.write(json.dumps(record) + "\n")
                    results.flush()
                if args.json:
                    print_json_line({"type": "outcome", **record}, sys.stdout)

            job = client.deployments.bulk_archive(
                source,
                concurrency=args.concurrency,
                rate_limit=args.rate_limit,
                on_outcome=on_outcome,
            )
            try:
                async with progress:
                    await job
            except asyncio.CancelledError:
                # Ctrl-C: the job has stopped and recorded what it did; report it.
                cancelled = True
    finally:
        if results is not None:
            results.close()
    _print_report(args, job.report, tally)
    if cancelled:
        print("cancelled: the results above are partial", file=sys.stderr)
        return EXIT_CANCELLED
    return EXIT_OK if job.report.ok else EXIT_FAILED


def _print_report(args: argparse.Namespace, report: BulkReport, tally: _Tally) -> None:
    duplicates = report.duplicates + tally.duplicates
    if args.json:
        summary = {
            "type": "summary",
            **report.as_dict(),
            **bulk_summary(report),
            "duplicates": duplicates,
            "skipped_done": tally.resumed,
        }
        print_json_line(summary, sys.stdout)
        return
    extra = (
        [("skipped", format_count(tally.resumed), "(done per --results)")] if args.resume else []
    )
    print(format_summary(bulk_summary_rows(report, extra=extra, duplicates=duplicates)))
    failures = report.failed
    for item in failures[:MAX_FAILURES_SHOWN]:
        error = f": {item.error}" if item.error is not None else ""
        print(f"  {item.outcome} {item.id}{error}", file=sys.stderr)
    if len(failures) > MAX_FAILURES_SHOWN:
        print(f"  … and {len(failures) - MAX_FAILURES_SHOWN} more", file=sys.stderr)
    if failures:
        hint = (
            f"re-run with --results {args.results} --resume to retry only those"
            if args.results
            else "use --results FILE to record outcomes and --resume to retry only the rest"
        )
        print(f"{len(failures)} of {len(report.outcomes)} not archived; {hint}", file=sys.stderr)
