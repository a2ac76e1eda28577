"""Smoke test of the benchmark harness: ``python -m benchmarks --quick`` runs and makes sense.

No timing is asserted (a CI machine proves nothing about speed); the test checks that
every section runs end to end, against a real fake server in another process, and that
its numbers are present and positive. Without the ``bench`` extra the comparison
columns must read "n/a (not installed)" rather than fail.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("bulk", "overhead", "decoding", "memory", "failfast", "imports", "plugin", "goodput")
NOT_INSTALLED = "n/a (not installed)"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """Run the quick benchmark once for the whole module: its stdout and its JSON."""
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document: dict[str, Any] = json.loads(out.read_text())
    return done.stdout, document


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


pytestmark = pytest.mark.slow


def test_every_section_is_reported(quick_run: tuple[str, dict[str, Any]]) -> None:
    stdout, document = quick_run
    assert set(document["sections"]) == set(SECTIONS)
    for name in SECTIONS:
        section = document["sections"][name]
        assert section["tables"], name
        assert all(table["rows"] for table in section["tables"]), name
        assert f"## {section['title']}" in stdout
    assert "## Targets" in stdout
    assert document["settings"] == {"quick": True, "repeats": 1}
    assert document["machine"]["cpus"] >= 1


def test_targets_have_verdicts(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, document = quick_run
    targets = [t for s in document["sections"].values() for t in s["targets"]]
    assert len(targets) >= 6
    for target in targets:
        assert target["verdict"] in {"PASS", "MISS", "n/a"}
        assert (target["value"] is None) == (target["verdict"] == "n/a")


def test_bulk_numbers_are_sane(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, document = quick_run
    scenarios = document["sections"]["bulk"]["data"]["scenarios"]
    assert {s["latency_ms"] for s in scenarios} == {0.0, 20.0}
    assert 64 in {s["concurrency"] for s in scenarios}
    qca_installed = importlib.util.find_spec("qca") is not None
    for scenario in scenarios:
        # Every client archived every deployment it was given.
        assert scenario["all_archived"]
        for client in ("ours", "raw"):
            stats = scenario["clients"][client]
            assert _positive(stats["rate"])
            assert _positive(stats["cpu_us"])
        assert (scenario["clients"]["qca"] is not None) == qca_installed
        assert _positive(scenario["rate_ours_over_raw"])


def test_other_numbers_are_sane(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, document = quick_run
    sections = document["sections"]
    for row in sections["overhead"]["data"]["endpoints"].values():
        assert _positive(row["ours_us"])
        assert _positive(row["json_loads_us"])
    decoding = sections["decoding"]["data"]["us_per_item"]
    assert _positive(decoding["ours (_json.loads + structure_page)"])
    assert _positive(decoding["json.loads only (no models)"])
    memory = sections["memory"]["data"]
    for runs in memory["runs"].values():
        assert all(run["items"] > 0 and run["over_kib"] >= 0 for run in runs)
    imports = sections["imports"]["data"]["ms"]
    assert _positive(imports["import qoder_async"])
    assert _positive(imports["aiohttp + attrs + cattrs + tenacity"])


def test_goodput_numbers_are_sane(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, document = quick_run
    runs = document["sections"]["goodput"]["data"]["runs"]
    assert {run["client"] for run in runs} == {"defaults", "rate_limit=R", "naive backoff"}
    assert len(runs) == 18
    for run in runs:
        assert run["exactly_once"], run
        assert _positive(run["goodput"])
        assert run["requests_per_id"] >= 1.0


def test_missing_comparison_packages_read_not_installed(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    stdout, document = quick_run
    decoding = document["sections"]["decoding"]["data"]["us_per_item"]
    for module, key in (
        ("pydantic", "pydantic v2 mirror (validate_json)"),
        ("msgspec", "msgspec Struct (lower bound)"),
        ("qca", "qca-sdk parse_response"),
    ):
        installed = importlib.util.find_spec(module) is not None
        assert (decoding[key] is not None) == installed, module
        if not installed:
            assert NOT_INSTALLED in stdout


def test_bulk_memory_and_fail_fast_rows(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, document = quick_run
    bulk_memory = document["sections"]["memory"]["data"]["bulk"]
    assert set(bulk_memory) == {"not_found", "archived"}
    for outcome, row in bulk_memory.items():
        counts = [run["counts"] for runs in row["runs"].values() for run in runs]
        assert all(set(c) == {outcome} for c in counts), counts
    failfast = document["sections"]["failfast"]["data"]["runs"]
    assert set(failfast) == {"closed port", "rejected token"}
    for runs in failfast.values():
        for run in runs:
            assert run["exit"] == 1
            assert run["error"].startswith("error: stopped early:")
            assert run["attempts"] <= 32 + 10  # the calls in flight, not one per id
