"""Celery recipe against a real redis-server, a real Celery worker and the fake API."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from qoder_async import AuthenticationError
from qoder_async.contrib.celery import chunked, run_chunk
from qoder_async.testing import FaultPlan
from tests.contrib_support import (
    ROOT,
    ThreadedFakeServer,
    leaks_in,
    python,
    spawned,
    worker_env,
)


def test_chunked_drops_duplicates_and_keeps_order() -> None:
    assert list(chunked(["b", "a", "b", "c", "d"], 2)) == [["b", "a"], ["c", "d"]]
    assert list(chunked([], 3)) == []
    with pytest.raises(ValueError, match="size"):
        list(chunked(["a"], 0))


def test_run_chunk_uses_a_fresh_loop_and_client_each_call() -> None:
    # Several calls in one thread, as a Celery process runs task after task: each opens
    # and closes its own loop and client, so none trips over a closed loop.
    with ThreadedFakeServer() as fake:
        ids = fake.call(lambda server: server.seed_deployments(30))
        results = []
        for chunk in chunked(ids, 10):
            results.append(
                run_chunk("pause", chunk, token=fake.server.token, base_url=fake.server.url)
            )
        again = run_chunk("pause", ids[:5], token=fake.server.token, base_url=fake.server.url)
    assert all(result["ok"] for result in results)
    assert {item["outcome"] for result in results for item in result["outcomes"]} == {"paused"}
    assert {item["outcome"] for item in again["outcomes"]} == {"already_paused"}
    assert again["retryable"] == 0


def test_run_chunk_stops_early_on_a_dead_host_or_a_wrong_token() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/v1/cloud"
    ids = [f"dep_{n:032x}" for n in range(500)]
    dead = run_chunk("archive", ids, token="pt-anything", base_url=closed)
    # Every id is worth another try once the host is back: not attempted, or (for the
    # few whose connection attempt was under way when the job stopped) interrupted.
    outcomes = Counter(item["outcome"] for item in dead["outcomes"])
    assert set(outcomes) <= {"not_attempted", "interrupted"}
    assert outcomes["not_attempted"] >= 500 - 8  # run_chunk's default concurrency
    assert dead["retryable"] == 500
    with ThreadedFakeServer() as fake:
        seeded = fake.call(lambda server: server.seed_deployments(20))
        with pytest.raises(AuthenticationError):
            run_chunk("archive", seeded, token="pt-wrong", base_url=fake.server.url)


def test_run_chunk_refuses_a_running_loop() -> None:
    async def inside_a_loop() -> None:
        with pytest.raises(RuntimeError, match="running event loop"):
            run_chunk("archive", ["dep_" + "0" * 32], token="pt-x", base_url="http://127.0.0.1:9")

    asyncio.run(inside_a_loop())


@pytest.mark.slow
def test_celery_worker_runs_the_recipe_against_the_fake_server(
    tmp_path: Path, redis_url: str
) -> None:
    plan = FaultPlan(seed=4242, rate=0.03)
    with ThreadedFakeServer(faults=plan) as fake:
        ids = fake.call(lambda server: server.seed_deployments(600))
        env = worker_env(fake.server, redis_url, QODER_RATE_LIMIT="0")
        worker_log = tmp_path / "celery-worker.log"
        worker = python(
            "-m",
            "celery",
            "-A",
            "examples.celery_archive",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=qoder-test-{threading.get_ident()}@127.0.0.1",
        )
        with spawned(worker, log=worker_log, env=env, grace=15.0):
            # The example's producer, as a user runs it: 600 ids in 24 tasks, so each of
            # the two pool processes runs many tasks, each on a fresh loop and client.
            producer = subprocess.run(
                python("examples/celery_archive.py", "--chunk-size", "25", "--timeout", "60"),
                env=env,
                cwd=ROOT,
                capture_output=True,
                timeout=120,
                check=False,
            )
        applied = fake.call(lambda server: dict(server.archive_applications))
        faults = fake.call(lambda server: sum(server.faults_injected.values()))
    assert producer.returncode == 0, producer.stderr.decode() + worker_log.read_text()
    summary = json.loads(producer.stdout)
    assert summary["counts"] == {"archived": 600}
    assert summary["total"] == 600
    assert summary["tasks"] == 24
    assert applied == dict.fromkeys(ids, 1)
    assert faults > 0
    log = worker_log.read_text(errors="replace")
    assert log.count("succeeded in") == 24
    assert leaks_in(worker_log) == [], log
