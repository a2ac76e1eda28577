"""Import time: ``import qoder_async`` vs its dependencies alone vs the vendor client.

Each import runs in a fresh interpreter (so nothing is cached in ``sys.modules``), timed
inside that interpreter with ``perf_counter`` around the import statement only, so
interpreter start-up is not counted. One untimed run per case first makes sure every
``.pyc`` exists; the table shows the median of the timed runs.

The children always write and read bytecode, in a temporary ``PYTHONPYCACHEPREFIX``
(the working tree stays clean): with ``PYTHONDONTWRITEBYTECODE`` inherited from the
environment, this package (an editable install) was compiled from source on every
run while the dependencies loaded the ``.pyc`` files pip wrote when installing them,
which is neither what users of an installed wheel see nor a fair comparison.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from benchmarks._results import NA, Section, Settings, Table, Target, fmt, median, ratio

__all__ = ["run"]

_ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT = 60.0
CASES: dict[str, tuple[str, str | None]] = {
    "aiohttp + attrs + cattrs + tenacity": ("import aiohttp, attrs, cattrs, tenacity", None),
    "import qoder_async": ("import qoder_async", None),
    # What every user runs; keeps the number honest if the package ever imports lazily.
    "from qoder_async import QoderClient": ("from qoder_async import QoderClient", None),
    "import qca.managed (vendor)": ("import qca.managed", "qca"),
}
_TIMER = "import time as _t\n_s = _t.perf_counter()\n{statement}\nprint(_t.perf_counter() - _s)\n"


def bytecode_env(pycache: str) -> dict[str, str]:
    """The environment for the children: bytecode written to and read from ``pycache``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def time_import(statement: str, env: Mapping[str, str] | None = None) -> float:
    """Seconds ``statement`` takes in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMER.format(statement=statement)],
        cwd=_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def run(settings: Settings) -> Section:
    """Time each case in fresh interpreters, interleaved, and compare the medians."""
    timed = settings.scale(max(5, settings.repeats), 1)
    cases = {
        name: statement
        for name, (statement, needs) in CASES.items()
        if needs is None or importlib.util.find_spec(needs) is not None
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory(prefix="qoder-bench-pycache-") as pycache:
        env = bytecode_env(pycache)
        for statement in cases.values():
            time_import(statement, env)  # writes every .pyc; not timed
        for _ in range(timed):
            # Interleaved, so a busy moment on the machine hits every case alike.
            for name, statement in cases.items():
                samples[name].append(time_import(statement, env))
    ms = {name: median(values) * 1000 for name, values in samples.items()}
    deps = ms["aiohttp + attrs + cattrs + tenacity"]
    ours = ms["import qoder_async"]
    client = ms["from qoder_async import QoderClient"]
    table = Table(
        title=f"Import time in a fresh interpreter (median of {timed})",
        columns=["import", "ms", "× dependencies"],
    )
    for name in CASES:
        value = ms.get(name)
        table.rows.append([name, fmt(value, 1), fmt(ratio(value, deps), 2, missing="n/a")])
    section = Section(name="imports", title="Import time")
    section.tables.append(table)
    section.targets.append(Target.at_most("import qoder_async / deps", ratio(ours, deps), 1.15))
    section.targets.append(
        Target.at_most("from qoder_async import QoderClient / deps", ratio(client, deps), 1.15)
    )
    if len(cases) < len(CASES):
        section.notes.append(f"'{NA}': qca-sdk comes with pip install -e '.[bench]'.")
    section.data = {"ms": ms, "samples_s": samples}
    return section
