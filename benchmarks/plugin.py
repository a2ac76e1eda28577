"""pytest start-up with and without the ``qoder_async`` plugin, in a bare project.

The plugin is loaded into every pytest run of every project that installs the package,
so its cost is paid even by suites that never use a fixture. Each case runs
``python -m pytest`` on a scratch project holding one trivial test and its own
``pytest.ini``, and is timed from outside (interpreter start-up included: that is what
a user waits for). The cases run interleaved, so a busy moment on the machine hits each
alike; the table shows the medians.

Two more cases disable the plugin and import from a ``conftest.py`` instead: the package
root (which loading any module of the package implies, since Python imports a package
before its submodules, and which therefore has to stay nearly free), and ``QoderClient``
(what the plugin would cost if the root imported the client eagerly, as it once did).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._results import Section, Settings, Table, Target, fmt, median, ratio
from benchmarks.imports import bytecode_env

__all__ = ["run"]

CHILD_TIMEOUT = 120.0
WITHOUT = "without the plugin (-p no:qoder_async)"
WITH = "with the plugin"
PACKAGE_ONLY = "without the plugin, conftest imports qoder_async"
CLIENT_ONLY = "without the plugin, conftest imports QoderClient"
_TEST = "def test_nothing():\n    assert True\n"


def _project(root: Path, name: str, *, conftest: str | None = None) -> Path:
    project = root / name
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_one.py").write_text(_TEST)
    if conftest is not None:
        (project / "conftest.py").write_text(conftest)
    return project


def time_pytest(project: Path, args: list[str], env: dict[str, str]) -> float:
    """Seconds one ``python -m pytest`` run of ``project`` takes, start-up included."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or "1 passed" not in done.stdout:
        raise RuntimeError(f"pytest failed in {project}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def run(settings: Settings) -> Section:
    """Time the four cases, interleaved, and compare the medians."""
    timed = settings.scale(max(9, settings.repeats), 1)
    with tempfile.TemporaryDirectory(prefix="qoder-bench-plugin-") as folder:
        root = Path(folder)
        env = bytecode_env(str(root / "pycache"))
        cases = {
            WITHOUT: (_project(root, "bare"), ["-p", "no:qoder_async"]),
            WITH: (_project(root, "plugin"), []),
            PACKAGE_ONLY: (
                _project(root, "package", conftest="import qoder_async\n"),
                ["-p", "no:qoder_async"],
            ),
            CLIENT_ONLY: (
                _project(root, "client", conftest="from qoder_async import QoderClient\n"),
                ["-p", "no:qoder_async"],
            ),
        }
        for project, args in cases.values():
            time_pytest(project, args, env)  # writes every .pyc; not timed
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(timed):
            for name, (project, args) in cases.items():
                samples[name].append(time_pytest(project, args, env))
    ms = {name: median(values) * 1000 for name, values in samples.items()}
    table = Table(
        title=f"pytest start-up, one trivial test (median of {timed})",
        columns=["case", "ms", "× without"],
    )
    for name, value in ms.items():
        table.rows.append([name, fmt(value, 0), fmt(ratio(value, ms[WITHOUT]), 2)])
    section = Section(name="plugin", title="pytest plugin start-up")
    section.tables.append(table)
    section.targets.append(
        Target.at_most("pytest start-up with / without plugin", ratio(ms[WITH], ms[WITHOUT]), 1.10)
    )
    section.notes.append(
        "Loading the plugin imports its package root, which imports nothing until a name "
        "is used: neither aiohttp, the client nor the fake server; compare the last row."
    )
    section.data = {"ms": ms, "samples_s": samples}
    return section
