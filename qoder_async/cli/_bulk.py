"""``bulk-archive``: archive many deployments with progress, confirmation and resume.

Where the ids come from (exactly one): arguments, ``--file`` (``-`` for stdin), stdin
when it is piped, or a filter (``--agent-id``, ``--status``, ``--name-prefix``,
``--created-after``, ``--created-before``) that walks ``deployments.list()`` lazily.

Safety rails: ``--dry-run`` sends no write (with explicit ids it reads each one to say
whether it exists); more than ``CONFIRM_ABOVE`` ids need a "yes" typed on the terminal
or ``--yes``; ``--results`` appends one JSON line per outcome the moment it is known,
and ``--resume`` skips ids that file records as final (archived, already archived, not
found), so an interrupted run can be repeated until it succeeds. A 401/403 or a host
that never answers stops the run at once; SIGINT and SIGTERM stop it with a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import IO, Any

from qoder_async import _validation
from qoder_async.bulk import ItemOutcome, Outcome
from qoder_async.cli._bulk_check import ARCHIVED, EXISTS, UNKNOWN, check_ids
from qoder_async.cli._bulk_summary import plural, print_report
from qoder_async.cli._output import (
    DEPLOYMENT_HEADERS,
    deployment_row,
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
    describe_error,
    make_client,
    run_async,
    scrub,
)
from qoder_async.client import QoderClient
from qoder_async.errors import QoderError
from qoder_async.models import Deployment

__all__ = ["CONFIRM_ABOVE", "DESCRIPTION", "cmd_bulk_archive", "read_done_ids"]

CONFIRM_ABOVE = 10
"""Archiving is irreversible: more ids than this need an explicit yes."""
DESCRIPTION = f"""\
Archive many deployments concurrently; the client slows down when the API throttles.

Ids come from exactly one source: arguments, --file PATH (- for stdin), stdin when it
is piped, or a filter (--agent-id, --status, --name-prefix, --created-after,
--created-before) that walks the deployment list page by page.

Archiving cannot be undone. --dry-run sends no write: with explicit ids it reads each
one and counts how many exist, are already archived or are unknown. More than
{CONFIRM_ABOVE} ids need a "y" typed on the terminal, or --yes. --results PATH appends
one JSON line per outcome as it finishes; with --resume the ids that file records as
final (archived, already archived, not found) are skipped, so an interrupted run can
simply be run again. A rejected token (401/403), or a host that never answers, stops
the run at once: the ids not yet tried are reported as not attempted. When stderr is
not a terminal a progress line is printed every --progress-every seconds.

Exit codes: 0 every id archived (or already archived), 1 some not found, failed or
not attempted (a summary says which), 2 a usage error or a refused confirmation, 130
Ctrl-C, 143 SIGTERM (the outcomes so far are still reported and written to
--results)."""
PAGE_SIZE = 100
EXIT_TERMINATED = 128 + signal.SIGTERM
"""What shells report for a command stopped with SIGTERM (``timeout``, systemd, k8s)."""


class _Tally:
    """Ids dropped before any call: duplicates in the input, and ids done earlier."""

    def __init__(self) -> None:
        self.duplicates = 0
        self.resumed = 0


def read_done_ids(path: str) -> set[str]:
    """Ids a results file records as final: archived, already archived, or not found.

    A missing file means nothing is done yet, so the same command line works for the
    first run and for every re-run. A ``not_found`` is final too: running it again
    cannot change it, and a resume loop must end. A line that does not parse (a run
    killed mid-write) is named in a warning on stderr and ignored: its id, if any, is
    simply archived again, which is safe.
    """
    done: set[str] = set()
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return done
    except OSError as exc:
        raise UsageError(f"cannot read results file {path}: {exc.strerror or exc}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if Outcome(record["outcome"]).final:
                    done.add(str(record["id"]))
            except (ValueError, KeyError, TypeError):
                print(
                    f"warning: {path} line {number} is not an outcome record; ignored",
                    file=sys.stderr,
                )
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
    """Show what would be archived: reads the ids (or the filtered list), never writes."""
    note = f"; {plural(tally.resumed, 'id')} final per the results file" if tally.resumed else ""
    if ids is not None:

        def show(deployment_id: str, state: str) -> None:
            if args.json:
                would = state == EXISTS
                record = {"id": deployment_id, "state": state, "would_archive": would}
                print_json_line(record, sys.stdout)
            elif state == EXISTS:
                print(deployment_id)

        async def check() -> Counter[str]:
            async with make_client(args) as client:
                return await check_ids(client, ids, concurrency=args.concurrency, on_state=show)

        counts = run_async(check())
        live, archived, unknown = counts[EXISTS], counts[ARCHIVED], counts[UNKNOWN]
        print(
            f"dry run: {plural(live, 'deployment')} would be archived, "
            f"{archived:,} already archived, {unknown:,} unknown{note}; nothing was changed",
            file=sys.stderr,
        )
        return EXIT_OK

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
    note = f"; {plural(tally.resumed, 'id')} final per the results file" if tally.resumed else ""
    print(
        f"dry run: {plural(count, 'deployment')} would be archived{note}; nothing was sent",
        file=sys.stderr,
    )
    return EXIT_OK


def _confirm(count: int) -> bool:
    sys.stderr.write(f"Archive {plural(count, 'deployment')}? Archiving cannot be undone. [y/N] ")
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
                    f"error: refusing to archive {plural(len(ids), 'deployment')} without "
                    "confirmation: stdin is not a terminal; pass --yes to confirm",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            if not _confirm(len(ids)):
                # A refusal is a refusal, typed or implied: the same code either way.
                print("aborted; nothing was archived", file=sys.stderr)
                return EXIT_USAGE
    if ids is not None and not ids:
        note = " (all final per the results file)" if tally.resumed else ""
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
    ended_by: int | None = None  # the signal that stopped the run, if one did
    stopped: QoderError | None = None
    try:
        async with make_client(args) as client, _terminate_on_sigterm() as terminated:
            source = ids if ids is not None else _matching(client, filters, done, tally)
            tty = sys.stderr.isatty()
            progress = Progress(
                sys.stderr,
                "archive",
                total=len(ids) if ids is not None else None,
                enabled=tty,
                log_every=None if tty else args.progress_every,
                status=lambda: f"in flight {job.in_flight}",
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
                # Ctrl-C or SIGTERM: the job has stopped and recorded what it did.
                ended_by = signal.SIGTERM if terminated() else signal.SIGINT
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()  # handled here: the summary still gets written
            except QoderError as exc:
                if exc is not job.report.stopped:
                    raise
                stopped = exc
    finally:
        if results is not None:
            results.close()
    print_report(args, job.report, duplicates=tally.duplicates, resumed=tally.resumed)
    if stopped is not None:
        line, _ = describe_error(stopped)
        print(f"error: stopped early: {scrub(line)}", file=sys.stderr)
        return EXIT_FAILED
    if ended_by is not None:
        name = "terminated" if ended_by == signal.SIGTERM else "cancelled"
        print(f"{name}: the results above are partial", file=sys.stderr)
        return EXIT_TERMINATED if ended_by == signal.SIGTERM else EXIT_CANCELLED
    return EXIT_OK if job.report.ok else EXIT_FAILED


@contextlib.asynccontextmanager
async def _terminate_on_sigterm() -> AsyncIterator[Callable[[], bool]]:
    """Turn SIGTERM into a cancellation of the current task, as asyncio does for SIGINT.

    Yields a function telling whether SIGTERM arrived. Where signal handlers cannot be
    installed (not the main thread, Windows), SIGTERM keeps its default behaviour.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[bool] = []

    def on_sigterm() -> None:
        received.append(True)
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (NotImplementedError, RuntimeError, ValueError):
        yield lambda: False
        return
    try:
        yield lambda: bool(received)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
