"""``qoder-async bulk-archive`` end to end: sources, outcomes, dry run, confirmation,
results and resume, Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import signal
import sys
from pathlib import Path

from qoder_async.testing import FakeQoderServer
from tests.cli_support import (
    AGENT_B,
    UNKNOWN,
    assert_one_error_line,
    child_env,
    cli,
    server_fixture,  # noqa: F401 (pytest fixture)
)

# -- bulk-archive -----------------------------------------------------------------------


async def test_bulk_archive_outcomes_summary_and_exit_codes(server: FakeQoderServer) -> None:
    live = server.seed_deployments(4)
    old = server.seed_deployments(1, archived=True)
    result = await cli(server, "--json", "bulk-archive", *live, *old, UNKNOWN, live[0])
    assert result.code == 1, result.err
    *outcomes, summary = result.json_lines()
    assert {o["id"]: o["outcome"] for o in outcomes} == {
        **dict.fromkeys(live, "archived"),
        old[0]: "already_archived",
        UNKNOWN: "not_found",
    }
    assert summary["type"] == "summary"
    assert summary["counts"] == {"archived": 4, "already_archived": 1, "not_found": 1}
    assert summary["duplicates"] == 1
    assert all(server.archive_applications[i] == 1 for i in live)
    assert server.archive_applications[old[0]] == 0

    fresh = server.seed_deployments(3)
    human = await cli(server, "bulk-archive", *fresh)
    assert human.code == 0, human.err
    assert "archived" in human.out
    assert "latency p50 / p99" in human.out


async def test_bulk_archive_reads_stdin_and_json_lines(server: FakeQoderServer) -> None:
    ids = server.seed_deployments(3)
    plain = ("# ids to archive\n" + ids[0] + "\n\n").encode()
    assert (await cli(server, "bulk-archive", stdin=plain)).code == 0
    listing = await cli(server, "--json", "deployments", "list")
    piped = await cli(server, "bulk-archive", "--file", "-", stdin=listing.out.encode())
    assert piped.code == 0, piped.err
    assert all(server.archive_applications[i] == 1 for i in ids)
    bad = await cli(server, "bulk-archive", stdin=b"dep_ok1\nnot an id\n")
    assert bad.code == 2
    assert_one_error_line(bad, "error: stdin line 2:")


async def test_bulk_archive_filter_walks_the_list(server: FakeQoderServer) -> None:
    theirs = server.seed_deployments(3, agent_id=AGENT_B, name_prefix="nightly")
    other_agent = server.seed_deployments(2, name_prefix="nightly")
    other_name = server.seed_deployments(2, agent_id=AGENT_B, name_prefix="weekly")
    result = await cli(
        server, "bulk-archive", "--agent-id", AGENT_B, "--name-prefix", "nightly", "--json"
    )
    assert result.code == 0, result.err
    assert {o["id"] for o in result.json_lines() if o["type"] == "outcome"} == set(theirs)
    assert set(server.archive_applications) == set(theirs)
    for untouched in other_agent + other_name:
        assert server.state.deployments[untouched]["archived_at"] is None


async def test_dry_run_sends_no_write(server: FakeQoderServer) -> None:
    ids = server.seed_deployments(15, name_prefix="old")
    server.reset_counters()
    filtered = await cli(server, "bulk-archive", "--name-prefix", "old", "--dry-run", "--json")
    assert filtered.code == 0, filtered.err
    assert [d["id"] for d in filtered.json_lines()] == ids[::-1]
    assert server.request_counts["deployments.list"] >= 1
    assert server.request_counts["deployments.archive"] == 0
    server.reset_counters()
    explicit = await cli(server, "bulk-archive", "--dry-run", *ids)
    assert explicit.code == 0
    assert explicit.out.split() == ids
    assert "15 deployments would be archived" in explicit.err
    assert sum(server.request_counts.values()) == 0
    assert all(d["archived_at"] is None for d in server.state.deployments.values())


async def test_more_than_ten_ids_need_confirmation(server: FakeQoderServer) -> None:
    ids = server.seed_deployments(11)
    refused = await cli(server, "bulk-archive", *ids)
    assert refused.code == 2
    assert "--yes" in refused.err
    assert "not a terminal" in refused.err
    assert server.request_counts["deployments.archive"] == 0
    confirmed = await cli(server, "bulk-archive", "--yes", *ids)
    assert confirmed.code == 0, confirmed.err
    assert sorted(server.archive_applications) == sorted(ids)


async def cli_on_tty(
    server: FakeQoderServer, *args: str, answer: bytes | None
) -> tuple[int, str, str]:
    """Run the CLI with stdin and stderr on a pseudo-terminal; type ``answer`` at the prompt."""
    controller, terminal = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qoder_async", "--base-url", server.url, *args,
        stdin=terminal, stdout=asyncio.subprocess.PIPE, stderr=terminal,
        env=child_env(server.token),
    )  # fmt: skip
    os.close(terminal)
    loop = asyncio.get_running_loop()
    screen = bytearray()
    answered = answer is None
    with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
        for _ in range(10_000):
            chunk = await asyncio.wait_for(
                loop.run_in_executor(None, os.read, controller, 4096), 30
            )
            if not chunk:
                break
            screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(controller, answer or b"")
                answered = True
    os.close(controller)
    assert proc.stdout is not None
    out = await proc.stdout.read()
    code = await asyncio.wait_for(proc.wait(), 30)
    return code, out.decode(), screen.decode(errors="replace")


async def test_confirmation_prompt_and_progress_bar_on_a_terminal(
    server: FakeQoderServer,
) -> None:
    ids = server.seed_deployments(12)
    code, _, screen = await cli_on_tty(server, "bulk-archive", *ids, answer=b"n\n")
    assert code == 1
    assert "Archive 12 deployments?" in screen
    assert "aborted" in screen
    assert server.request_counts["deployments.archive"] == 0

    server.latency = 0.03  # slow enough for the bar to redraw a few times
    code, out, screen = await cli_on_tty(
        server, "--concurrency", "4", "bulk-archive", *ids, answer=b"y\n"
    )
    assert code == 0, screen
    assert "archive  [" in screen
    assert "12/12" in screen
    assert "/s" in screen
    assert "archived" in out
    assert sorted(server.archive_applications) == sorted(ids)


async def test_results_file_and_resume_skip_done_ids(
    server: FakeQoderServer, tmp_path: Path
) -> None:
    ids = server.seed_deployments(12)
    results = tmp_path / "results.jsonl"
    first = await cli(server, "bulk-archive", "--results", str(results), *ids[:5])
    assert first.code == 0, first.err
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(ids[:5])
    assert {r["outcome"] for r in records} == {"archived"}

    server.reset_counters()
    again = await cli(
        server, "--json", "bulk-archive", "--yes", "--results", str(results), "--resume", *ids
    )
    assert again.code == 0, again.err
    summary = again.json_lines()[-1]
    assert summary["skipped_done"] == 5
    assert server.request_counts["deployments.archive"] == 7
    assert set(server.archive_applications) == set(ids[5:])
    assert len(results.read_text().splitlines()) == 12


async def test_ctrl_c_stops_with_130_and_keeps_the_results(
    server: FakeQoderServer, tmp_path: Path
) -> None:
    ids = server.seed_deployments(200)
    server.latency = 0.05
    results = tmp_path / "results.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qoder_async", "--base-url", server.url, "--concurrency", "4",
        "bulk-archive", "--yes", "--results", str(results), *ids,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=child_env(server.token),
    )  # fmt: skip
    for _ in range(200):  # wait until some outcomes are on disk
        await asyncio.sleep(0.05)
        if results.exists() and len(results.read_text().splitlines()) >= 10:
            break
    proc.send_signal(signal.SIGINT)
    out, raw_err = await asyncio.wait_for(proc.communicate(), 30)
    err = raw_err.decode()
    assert proc.returncode == 130, err
    assert "cancelled" in err
    assert "Traceback" not in err
    records = [json.loads(line) for line in results.read_text().splitlines()]
    done = [r["id"] for r in records if r["outcome"] == "archived"]
    assert 10 <= len(done) < len(ids)
    assert all(server.archive_applications[i] == 1 for i in done)
    assert "archived" in out.decode()
