"""``python -m qoder_async demo`` runs offline, under faults, and proves nothing was lost."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any

import pytest

from tests.cli_support import child_env


async def run_demo(*args: str, wait: float = 90.0) -> tuple[int, str, str]:
    env = child_env(None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "qoder_async",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,  # no token, no base URL: the demo needs neither
    )
    out, err = await asyncio.wait_for(proc.communicate(), wait)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_small_demo_json_summary_checks_out() -> None:
    code, out, err = await run_demo("--json", "demo", "--count", "250", "--seed", "3")
    assert code == 0, err
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert summary["type"] == "demo_summary"
    assert summary["created"] == summary["listed"] == 250
    assert summary["create_failures"] == 0
    assert summary["pages"] == 3
    prearchived, unknown = 250 // 50, 1
    assert summary["counts"] == {
        "archived": 250,
        "already_archived": prearchived,
        "not_found": unknown,
    }
    assert summary["duplicates"] == 2
    assert summary["archive_faults_injected"] > 0
    assert summary["attempts"] > summary["total"]  # faults forced retries
    verification = summary["verification"]
    assert verification["passed"] is True
    assert verification["archived_once"] == verification["expected"] == 250
    assert verification["archived_twice"] == verification["missed"] == 0
    assert verification["duplicate_creates"] == 0
    # The archive phase ran behind the server's write limit: every archive call the job
    # made went through it (each id at least once), and its 429s are among those the
    # report counted as throttled.
    limit = summary["rate_limit"]
    assert limit["told_the_job"] is False
    assert limit["limit_per_s"] >= 20
    assert limit["burst"] >= 10
    assert limit["writes_accepted"] >= 250 + prearchived + unknown
    assert 0 <= limit["throttled_429"] <= summary["throttled"]
    assert "limits writes like a gateway" in err
    # Narration goes to stderr under --json, so stdout stays one parseable line.
    assert "Bulk-archiving" in err


@pytest.mark.slow
async def test_default_demo_prints_the_table_the_limit_and_the_proof() -> None:
    # How long the demo takes depends on the machine and its load (and, since the write
    # limit is derived from the create rate, scales with it); a generous bound only
    # keeps a hung demo from hanging the suite.
    code, out, err = await run_demo("demo", wait=300.0)
    assert code == 0, out + err
    assert "Created 3,000 deployments" in out
    assert "Listed 3,000 live deployments in 30 pages" in out
    table = out.split("Bulk archive summary\n", 1)[1].split("\n\n", 1)[0]
    cells = [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()]
    rows = {label: value for label, value, *_ in cells}
    assert rows["archived"] == "3,000"
    assert rows["already archived"] == "60"
    assert rows["not found"] == "12"
    assert rows["failed"] == "0"
    assert "3,000 of 3,000 listed deployments archived exactly once (0 twice, 0 missed" in out
    assert re.search(r"The server now also limits writes like a gateway: \d+ per second", out)
    assert re.search(
        r"the server allowed \d+ writes/s \(burst \d+\) and refused [\d,]+ writes over it",
        out,
    )
    assert re.search(r"the job archived [\d,]+ ids/s, \d\.\d\d of the limit", out)
    assert "PASS" in out
