"""How fast a hopeless bulk job stops: a closed port, and a rejected token.

Both run the real command line (``qoder-async --json bulk-archive --yes --file ids``)
in a fresh process over 10,000 ids, as a user would, and time it from start to exit:
against a 127.0.0.1 port nobody listens on, and against the fake server (in its own
process) with a token it does not accept. The summary line says how many attempts were
made; before the job stopped early these runs took hours and 10,000 401s.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._results import Section, Settings, Table, Target, fmt, median
from benchmarks._server import fake_server

__all__ = ["run"]

_ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT = 300.0
GOAL_SECONDS = 30.0
CONCURRENCY = 32


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/api/v1/cloud"


def _cli(url: str, token: str, ids_file: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QODER_")}
    env["QODER_PAT"] = token
    command = [sys.executable, "-m", "qoder_async", "--json", "--base-url", url]
    command += ["--concurrency", str(CONCURRENCY), "bulk-archive", "--yes"]
    command += ["--file", str(ids_file)]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=_ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    elapsed = time.perf_counter() - started
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    return {
        "exit": done.returncode,
        "seconds": elapsed,
        "attempts": summary["attempts"],
        "counts": summary["counts"],
        "error": errors[-1] if errors else "",
    }


def run(settings: Settings) -> Section:
    """Time both scenarios (``settings.repeats`` times each) and compare with the goal."""
    count = settings.scale(10_000, 1_000)
    runs: dict[str, list[dict[str, Any]]] = {"closed port": [], "rejected token": []}
    with tempfile.TemporaryDirectory() as tmp, fake_server(0, want_ids=False) as server:
        ids_file = Path(tmp) / "ids.txt"
        ids_file.write_text("".join(f"dep_{n:032x}\n" for n in range(count)))
        for _ in range(settings.repeats):
            runs["closed port"].append(_cli(_closed_port_url(), "pt-anything", ids_file))
            runs["rejected token"].append(_cli(server.url, "pt-wrong", ids_file))
    table = Table(
        title=f"bulk-archive of {count:,} ids that cannot succeed (medians, whole CLI run)",
        columns=["scenario", "seconds", "attempts", "not attempted", "exit", "error line"],
    )
    section = Section(name="failfast", title="Fail fast: a hopeless bulk job stops")
    for scenario, results in runs.items():
        seconds = median(r["seconds"] for r in results)
        attempts = median(r["attempts"] for r in results)
        skipped = median(r["counts"].get("not_attempted", 0) for r in results)
        last = results[-1]
        table.rows.append(
            [
                scenario,
                fmt(seconds, 2),
                fmt(attempts, 0),
                f"{skipped:,.0f}",
                str(last["exit"]),
                last["error"][:140],
            ]
        )
        section.targets.append(
            Target.at_most(f"fail fast: seconds, {count:,} ids, {scenario}", seconds, GOAL_SECONDS)
        )
    section.tables.append(table)
    section.notes.append(
        f"--concurrency {CONCURRENCY}; a rejected token stops at the first 401, a host that "
        "never answered after 10 failed connection attempts."
    )
    section.data = {"ids": count, "runs": runs}
    return section
