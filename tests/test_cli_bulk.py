"""``qoder-async bulk-archive`` end to end: sources, outcomes, dry run, confirmation,
results and resume, fail fast, progress in logs, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import pytest

from qoder_async.testing import FakeQoderServer
from tests.cli_support import (
    AGENT_B,
    UNKNOWN,
    assert_one_error_line,
    child_env,
    cli,
    cli_on_terminal,
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
    gone = server.seed_deployments(1, archived=True)
    explicit = await cli(server, "bulk-archive", "--dry-run", *ids, *gone, UNKNOWN)
    assert explicit.code == 0, explicit.err
    assert sorted(explicit.out.split()) == sorted(ids)  # the ones that would be archived
    assert "15 deployments would be archived, 1 already archived, 1 unknown" in explicit.err
    assert "nothing was changed" in explicit.err
    # Read-only calls, one per id, and no write.
    assert server.request_counts["deployments.get"] == 17
    assert server.request_counts["deployments.archive"] == 0
    assert all(server.state.deployments[i]["archived_at"] is None for i in ids)
    one = await cli(server, "--json", "bulk-archive", "--dry-run", ids[0])
    assert one.json_lines() == [{"id": ids[0], "state": "exists", "would_archive": True}]
    assert "1 deployment would be archived, 0 already archived, 0 unknown" in one.err


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


async def test_confirmation_prompt_and_progress_bar_on_a_terminal(
    server: FakeQoderServer,
) -> None:
    ids = server.seed_deployments(12)
    code, _, screen = await cli_on_terminal(server, "bulk-archive", *ids, answer=b"n\n")
    help_text = await cli(server, "bulk-archive", "--help")
    assert "2 a usage error or a refused confirmation" in " ".join(help_text.out.split())
    assert code == 2  # what the help says, like the refusal when stdin is no terminal
    assert "Archive 12 deployments?" in screen
    assert "aborted" in screen
    assert server.request_counts["deployments.archive"] == 0

    server.latency = 0.03  # slow enough for the bar to redraw a few times
    code, out, screen = await cli_on_terminal(
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


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGINT, 130, "cancelled"), (signal.SIGTERM, 143, "terminated")],
)
async def test_a_signal_stops_with_a_summary_and_keeps_the_results(
    server: FakeQoderServer, tmp_path: Path, signum: int, code: int, word: str
) -> None:
    ids = server.seed_deployments(200)
    server.latency = 0.05
    results = tmp_path / "results.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qoder_async", "--base-url", server.url, "--concurrency", "4",
        "--json", "bulk-archive", "--yes", "--results", str(results), *ids,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=child_env(server.token),
    )  # fmt: skip
    assert proc.stdout is not None
    # Each outcome is printed once it is on disk: ten of them, then the signal.
    for _ in range(10):
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert json.loads(line)["type"] == "outcome"
    proc.send_signal(signum)
    rest, raw_err = await asyncio.wait_for(proc.communicate(), 30)
    err = raw_err.decode()
    assert proc.returncode == code, err
    assert f"{word}: the results above are partial" in err
    assert "Traceback" not in err
    summary = json.loads(rest.decode().splitlines()[-1])
    assert summary["type"] == "summary"
    assert summary["cancelled"] is True
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(records) == summary["total"]
    done = [r["id"] for r in records if r["outcome"] == "archived"]
    assert 10 <= len(done) < len(ids)
    assert all(server.archive_applications[i] == 1 for i in done)


async def test_resume_treats_not_found_as_final(server: FakeQoderServer, tmp_path: Path) -> None:
    ids = server.seed_deployments(3)
    results = tmp_path / "results.jsonl"
    first = await cli(server, "bulk-archive", "--results", str(results), "--resume", *ids, UNKNOWN)
    assert first.code == 1
    assert "1 of 4 deployments not archived (not found: nothing to retry)" in first.err
    assert "--resume" not in first.err  # no hint to run again: nothing would change
    server.reset_counters()
    again = await cli(server, "bulk-archive", "--results", str(results), "--resume", *ids, UNKNOWN)
    assert again.code == 0, again.err
    assert "nothing to archive (all final per the results file)" in again.err
    assert sum(server.request_counts.values()) == 0


async def test_resume_warns_about_a_garbage_line(server: FakeQoderServer, tmp_path: Path) -> None:
    ids = server.seed_deployments(2)
    results = tmp_path / "results.jsonl"
    results.write_text(
        json.dumps({"id": ids[0], "outcome": "archived"}) + '\n{"id": "dep_cut off mid-wri\n'
    )
    result = await cli(server, "bulk-archive", "--results", str(results), "--resume", *ids)
    assert result.code == 0, result.err
    assert f"warning: {results} line 2 is not an outcome record; ignored" in result.err
    assert set(server.archive_applications) == {ids[1]}


async def test_a_wrong_token_stops_at_once(server: FakeQoderServer, tmp_path: Path) -> None:
    ids = server.seed_deployments(300)
    results = tmp_path / "results.jsonl"
    result = await cli(
        server, "bulk-archive", "--yes", "--results", str(results), *ids, token="pt-wrong"
    )
    assert result.code == 1
    assert "error: stopped early: 401" in result.err
    # At most the calls already in flight (the default concurrency) reached the server.
    assert server.request_counts["deployments.archive"] <= 32
    assert "not attempted" in result.out
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(records) == 300
    skipped = [r for r in records if r["outcome"] == "not_attempted"]
    assert len(skipped) >= 300 - 32
    assert "re-run with --results" in result.err  # fixing the token and resuming helps
    assert server.archive_applications == {}


async def test_an_unreachable_host_stops_with_one_message(
    server: FakeQoderServer, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/v1/cloud"
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"dep_{n:032x}\n" for n in range(10_000)))
    result = await cli(
        server, "--base-url", closed, "bulk-archive", "--yes", "--file", str(ids), wait=120
    )
    assert result.code == 1, result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.err
    assert "stopped early" in errors[0]
    assert closed.rsplit("/api", 1)[0] in errors[0]
    assert "10,000" in result.out  # the summary counts them all as not attempted


async def test_progress_lines_when_stderr_is_not_a_terminal(server: FakeQoderServer) -> None:
    ids = server.seed_deployments(20)
    server.latency = 0.05
    result = await cli(
        server, "--concurrency", "2", "bulk-archive", "--yes", "--progress-every", "0.1", *ids
    )
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if line.startswith("archive ")]
    assert lines, result.err  # ~0.5 s of work, a line every 0.1 s
    assert "/20" in lines[0]
    assert "\r" not in result.err
