"""The demo: thousands of deployments through a faulty fake API, and proof nothing was lost.

It starts the fake Qoder server on 127.0.0.1 inside this process (no account, no
network), creates deployments through the SDK while the server injects faults, lists
them page by page, bulk-archives them with the progress bar while the server also
throttles writes like a gateway (a token bucket the SDK is not told about), and checks
the result against the server's own records: every deployment archived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from qoder_async.bulk import BulkReport, Outcome
from qoder_async.cli._output import (
    bulk_summary,
    bulk_summary_rows,
    format_count,
    format_summary,
    plural,
)
from qoder_async.cli._progress import Progress
from qoder_async.cli._runtime import EXIT_FAILED, EXIT_OK, run_async
from qoder_async.client import QoderClient
from qoder_async.config import RetryPolicy
from qoder_async.errors import QoderError

if TYPE_CHECKING:
    from qoder_async.testing import FakeQoderServer, Throttle

__all__ = ["DEFAULT_COUNT", "DEFAULT_FAULT_RATE", "DEFAULT_SEED", "cmd_demo"]

DEFAULT_COUNT = 3000
DEFAULT_SEED = 7
DEFAULT_FAULT_RATE = 0.10
NAME_PREFIX = "demo-"
DEMO_RETRY = RetryPolicy(max_attempts=8, deadline=60.0, initial_backoff=0.05, max_backoff=1.0)
LIMIT_SHARE = 0.5
"""The archive phase's write limit as a share of the write rate the create phase reached:
low enough that it binds on a fast or a slow machine (archiving costs a little more per
id than creating, so the share stays well under 1), high enough to keep the demo quick."""
LIMIT_CAP = 400
"""Most writes/s the limit allows, so a fast machine meets a limit too."""


class _Narrator:
    """Human lines go to stdout, or to stderr under ``--json`` (stdout stays parseable)."""

    def __init__(self, json_mode: bool) -> None:
        self.stream = sys.stderr if json_mode else sys.stdout

    def __call__(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)


def _fault_mixes() -> tuple[list[Any], list[Any]]:
    from qoder_async.testing import Fault

    writes = [
        Fault.rate_limited(retry_after=0.1),
        Fault.rate_limited(),
        Fault.unavailable(body="html"),
        Fault.unavailable(body="empty", retry_after=0.1),
        Fault.server_error(),
        Fault.reset_before(),
        Fault.reset_after(),
        Fault.truncated_json(),
        Fault.latency(0.05),
    ]
    reads = [
        Fault.rate_limited(retry_after=0.1),
        Fault.unavailable(body="html"),
        Fault.unavailable(body="empty"),
        Fault.reset_before(),
        Fault.latency(0.05),
    ]
    return writes, reads


async def _create_all(
    client: QoderClient, server: FakeQoderServer, count: int, concurrency: int
) -> tuple[dict[str, str], list[str]]:
    """Create ``count`` deployments with ``concurrency`` workers: name -> id, failed names.

    Each create is one SDK call: its retries (after a reset, a 503 or a cut-off answer)
    carry the call's Idempotency-Key, so the API replays instead of creating twice.
    """
    state = server.state
    names = iter(f"{NAME_PREFIX}{i:05d}" for i in range(count))
    created: dict[str, str] = {}
    failed: list[str] = []
    progress = Progress(sys.stderr, "create ", total=count, enabled=sys.stderr.isatty())

    async def create(name: str) -> None:
        try:
            deployment = await client.deployments.create(
                name=name,
                agent=state.default_agent_id,
                environment_id=state.default_environment_id,
                initial_events=[{"type": "user.message", "content": "Summarise new issues"}],
                schedule={"type": "cron", "expression": "0 9 * * 1-5", "timezone": "UTC"},
                metadata={"team": "demo"},
            )
        except QoderError:
            failed.append(name)
            progress.advance(ok=False)
            return
        created[name] = deployment.id
        progress.advance()

    async def worker() -> None:
        for name in names:  # the shared iterator hands each name to one worker
            await create(name)

    async with progress, asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, count)):
            group.create_task(worker())
    return created, failed


async def _list_all(client: QoderClient) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    async for page in client.deployments.list(limit=100).pages():
        pages += 1
        ids.extend(deployment.id for deployment in page.data)
    return ids, pages


_UNTOLD = "The SDK is not told the limit; it has to find it."
_TOLD = "Here --rate-limit paces the job at a fixed rate instead of letting it find the limit."


def _gateway_throttle(writes_per_s: float) -> Throttle:
    """A token bucket on writes at ``LIMIT_SHARE`` of ``writes_per_s``, in round numbers."""
    from qoder_async.testing import Throttle

    rate = max(20, min(LIMIT_CAP, int(writes_per_s * LIMIT_SHARE) // 10 * 10))
    return Throttle(rate=rate, burst=max(10, rate // 5), retry_after=True, methods={"POST"})


def _limit_stats(throttle: Throttle, report: BulkReport) -> dict[str, Any]:
    """What the throttle saw during the bulk job, next to what the job achieved."""
    elapsed = max(throttle.elapsed(), 1e-9)
    ids_per_s = len(report.outcomes) / max(report.elapsed, 1e-9)
    writes_per_s = throttle.accepted / elapsed
    return {
        "limit_per_s": throttle.rate,
        "burst": throttle.size,
        "writes_accepted": throttle.accepted,
        "throttled_429": throttle.throttled,
        "writes_per_s": round(writes_per_s, 1),
        "ids_per_s": round(ids_per_s, 1),
        "ids_share_of_limit": round(ids_per_s / throttle.rate, 3),
        "writes_share_of_limit": round(writes_per_s / throttle.rate, 3),
    }


def _verify(
    server: FakeQoderServer,
    report: BulkReport,
    listed: list[str],
    prearchived: list[str],
    unknown: list[str],
) -> dict[str, Any]:
    """Check the outcome against the server's records, not against the SDK's report."""
    applied = server.archive_applications
    deployments = server.state.deployments
    expected = set(listed)
    once = sum(1 for i in expected if applied[i] == 1 and deployments[i]["archived_at"])
    twice = sum(1 for count in applied.values() if count > 1)
    missed = sum(1 for i in expected if applied[i] == 0)
    stray = sum(1 for i in applied if i not in expected)
    names = Counter(
        d["name"].split("_archived_")[0]
        for d in deployments.values()
        if d["name"].startswith(NAME_PREFIX)
    )
    duplicate_names = sum(1 for n in names.values() if n > 1)
    prearchived_ok = all(applied[i] == 0 and deployments[i]["archived_at"] for i in prearchived)
    unknown_absent = not any(i in deployments for i in unknown)
    report_matches = (
        set(report.ids(Outcome.ARCHIVED)) == expected
        and set(report.ids(Outcome.ALREADY_ARCHIVED)) == set(prearchived)
        and set(report.ids(Outcome.NOT_FOUND)) == set(unknown)
    )
    unarchived = sum(1 for d in deployments.values() if d["archived_at"] is None)
    passed = (
        once == len(expected)
        and twice == 0
        and missed == 0
        and stray == 0
        and duplicate_names == 0
        and prearchived_ok
        and unknown_absent
        and report_matches
        and unarchived == 0
    )
    return {
        "expected": len(expected),
        "archived_once": once,
        "archived_twice": twice,
        "missed": missed,
        "archived_unexpectedly": stray,
        "left_unarchived": unarchived,
        "duplicate_creates": duplicate_names,
        "prearchived_untouched": prearchived_ok,
        "unknown_absent": unknown_absent,
        "report_matches_server": report_matches,
        "passed": passed,
    }


async def _demo(args: argparse.Namespace) -> int:
    from qoder_async.testing import FakeQoderServer, FaultPlan

    say = _Narrator(args.json)
    started = time.monotonic()
    rng = random.Random(args.seed)
    writes, reads = _fault_mixes()
    count, rate = args.count, args.fault_rate
    async with FakeQoderServer(seed=args.seed) as server:
        say(f"Fake Qoder API on {server.url} (in this process; no account, no network)")
        say(
            f"Faults: {rate:.0%} of create and archive calls get a 429 (with or without "
            "Retry-After), a 503 (HTML or empty body), a 500, a connection reset before or "
            "after the change is applied, a truncated JSON body, or 50 ms of latency; "
            f"{rate:.0%} of list pages get a 429, a 503, a reset or latency."
        )
        say()
        extra = max(1, count // 50)
        prearchived = server.seed_deployments(extra, archived=True, name_prefix="demo-old")
        say(
            f"0. Seeded {plural(extra, 'already-archived deployment')} straight into the "
            "server's state (not through the API)."
        )
        client = QoderClient(server.token, base_url=server.url, retry=DEMO_RETRY)
        async with client:
            server.faults = FaultPlan(
                seed=args.seed, rate=rate, kinds=writes, endpoints={"deployments.create"}
            )
            begin = time.monotonic()
            created, failed_creates = await _create_all(client, server, count, args.concurrency)
            retries = server.request_counts["deployments.create"] - count
            took = time.monotonic() - begin
            say(
                f"1. Created {plural(len(created), 'deployment')} with POST /deployments "
                f"({args.concurrency} at a time) in {took:.1f} s; "
                f"{plural(sum(server.faults_injected.values()), 'fault')} injected, "
                f"{plural(retries, 'retry', 'retries')} "
                "(each with its call's Idempotency-Key)"
                + (f", {len(failed_creates)} FAILED" if failed_creates else "")
                + "."
            )

            server.faults = FaultPlan(
                seed=args.seed + 1, rate=rate, kinds=reads, endpoints={"deployments.list"}
            )
            begin = time.monotonic()
            listed, pages = await _list_all(client)
            say(
                f"2. Listed {plural(len(listed), 'live deployment')} in {plural(pages, 'page')} of "
                f"up to 100 in {time.monotonic() - begin:.1f} s."
            )

            unknown = [f"dep_{rng.getrandbits(128):032x}" for _ in range(max(1, count // 250))]
            duplicates = rng.sample(listed, min(len(listed), max(1, count // 100)))
            inputs = listed + prearchived + unknown + duplicates
            rng.shuffle(inputs)
            say(
                f"3. Bulk-archiving {plural(len(inputs), 'id')}: the {len(listed):,} listed"
                f" + {len(prearchived)} already archived + {len(unknown)} unknown + "
                f"{len(duplicates)} repeated."
            )
            throttle = _gateway_throttle(server.request_counts["deployments.create"] / took)
            say(
                f"   The server now also limits writes like a gateway: {throttle.rate:g} "
                f"per second (burst {throttle.size:g}), a 429 with Retry-After beyond that. "
                f"{_UNTOLD if args.rate_limit is None else _TOLD} (The limit is half the "
                f"write rate step 1 reached, at most {LIMIT_CAP}/s, so it binds on a fast or a "
                "slow machine.)"
            )
            server.throttle = throttle
            server.faults = FaultPlan(
                seed=args.seed + 2, rate=rate, kinds=writes, endpoints={"deployments.archive"}
            )
            faults_before = sum(server.faults_injected.values())
            progress = Progress(
                sys.stderr,
                "archive",
                total=len(inputs) - len(duplicates),
                enabled=sys.stderr.isatty(),
                status=lambda: f"concurrency {job.concurrency}",
            )
            job = client.deployments.bulk_archive(
                inputs,
                concurrency=args.concurrency,
                rate_limit=args.rate_limit,
                on_outcome=lambda item: progress.advance(ok=item.ok),
            )
            async with progress:
                report = await job
            limit = _limit_stats(throttle, report)
            limit["told_the_job"] = args.rate_limit is not None
            archive_faults = sum(server.faults_injected.values()) - faults_before
            server.faults = None
            server.throttle = None

        verification = _verify(server, report, listed, prearchived, unknown)
        elapsed = time.monotonic() - started
        if args.json:
            summary = {
                "type": "demo_summary",
                "created": len(created),
                "create_failures": len(failed_creates),
                "create_retries": retries,
                "listed": len(listed),
                "pages": pages,
                "archive_faults_injected": archive_faults,
                "rate_limit": limit,
                "faults_injected": dict(server.faults_injected),
                **report.as_dict(),
                **bulk_summary(report),
                "verification": verification,
                "demo_elapsed_s": round(elapsed, 2),
                # The report alone is "not ok" by design (unknown ids were fed in on
                # purpose); what the demo vouches for is the server-side verification.
                "ok": verification["passed"] and not failed_creates,
            }
            print(json.dumps(summary), flush=True)
        else:
            _print_summary(say, report, verification, archive_faults, limit, elapsed)
    return EXIT_OK if verification["passed"] and not failed_creates else EXIT_FAILED


def _print_summary(
    say: _Narrator,
    report: BulkReport,
    verification: dict[str, Any],
    archive_faults: int,
    limit: dict[str, Any],
    elapsed: float,
) -> None:
    say()
    say("Bulk archive summary")
    extra = [("faults injected", format_count(archive_faults), "(on archive calls)")]
    say(format_summary(bulk_summary_rows(report, extra=extra), indent="  "))
    say()
    say(
        "The rate limit (the job was paced by --rate-limit):"
        if limit["told_the_job"]
        else "The rate limit, found without being told:"
    )
    say(
        f"  the server allowed {limit['limit_per_s']:g} writes/s (burst {limit['burst']:g}) "
        f"and refused {limit['throttled_429']:,} writes over it with a 429"
    )
    say(
        f"  the job archived {limit['ids_per_s']:,.0f} ids/s, "
        f"{limit['ids_share_of_limit']:.2f} of the limit; the server took "
        f"{limit['writes_per_s']:,.0f} writes/s, {limit['writes_share_of_limit']:.2f} of it "
        "(retries after the injected faults count as writes too)"
    )
    say()
    v = verification
    say("Verification against the server's own records:")
    say(
        f"  {v['archived_once']:,} of {v['expected']:,} listed deployments archived exactly "
        f"once ({v['archived_twice']} twice, {v['missed']} missed, "
        f"{v['archived_unexpectedly']} archived that should not have been)"
    )
    say(
        f"  already-archived ones untouched: {'yes' if v['prearchived_untouched'] else 'NO'}; "
        f"unknown ids absent: {'yes' if v['unknown_absent'] else 'NO'}; "
        f"deployments left unarchived: {v['left_unarchived']}"
    )
    say(
        f"  duplicate deployments from retried creates: {v['duplicate_creates']}; "
        f"report agrees with the server: {'yes' if v['report_matches_server'] else 'NO'}"
    )
    say(f"  {'PASS' if v['passed'] else 'FAIL'} — demo finished in {elapsed:.1f} s")


def cmd_demo(args: argparse.Namespace) -> int:
    """``demo``: see the module docstring."""
    return run_async(_demo(args))
