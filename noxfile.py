"""The test matrix behind ``make test-all``: every CPython we claim, and the lowest versions.

Sessions:

* ``tests-3.11`` / ``tests-3.12`` / ``tests-3.13`` — the whole pytest suite, once per
  CPython 3.11-3.13 found on this machine (see :func:`find_interpreters`);
* ``lowest`` — the suite on 3.11 with every runtime dependency pinned to the lowest
  version that ``pyproject.toml`` declares (read from it, so raising a minimum there
  moves this session along);
* ``package`` — builds the sdist and the wheel, runs ``twine check``, and runs the suite
  from the unpacked sdist.

Lint and mypy are not repeated here: ``make test`` runs them once.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tarfile
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent
MINORS = ("3.11", "3.12", "3.13")
LOWEST_PYTHON = MINORS[0]

nox.options.sessions = ["tests", "lowest", "package"]
# Only interpreters already on the machine: nothing is downloaded.
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True


def _probe(executable: str) -> tuple[str, str] | None:
    """``(minor, real executable)`` of a CPython, or None when it is not one or fails."""
    code = (
        "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2], sys.executable)"
    )
    try:
        done = subprocess.run(
            [executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = done.stdout.split(maxsplit=2)
    if done.returncode != 0 or len(parts) != 3 or parts[0] != "cpython":
        return None
    return parts[1], parts[2].strip()


def _pyenv_candidates(minor: str) -> list[str]:
    """``python3.X`` of every pyenv-installed version, newest patch release first."""
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv")]
    found: list[str] = []
    for root in filter(None, dict.fromkeys(roots)):
        found += glob.glob(os.path.join(root, "versions", f"{minor}.*", "bin", f"python{minor}"))

    def release(path: str) -> tuple[int, ...]:
        name = Path(path).parents[1].name  # e.g. "3.12.1"; "3.13.0t" and the like sort low
        return tuple(int(part) if part.isdigit() else -1 for part in name.split("."))

    return sorted(found, key=release, reverse=True)


def find_interpreters() -> dict[str, str]:
    """For each of :data:`MINORS`, the first working CPython: on ``PATH``, then pyenv's.

    ``PATH`` is searched for ``python3.X`` first; then ``$PYENV_ROOT/versions`` and
    ``~/.pyenv/versions`` (their newest patch release), so interpreters that pyenv keeps
    outside ``PATH`` count too. Each candidate is run once to confirm its version.
    """
    found: dict[str, str] = {}
    for minor in MINORS:
        on_path = [
            os.path.join(folder, f"python{minor}") for folder in os.get_exec_path() if folder
        ]
        for candidate in [*on_path, *_pyenv_candidates(minor)]:
            if not os.access(candidate, os.X_OK):
                continue
            probed = _probe(candidate)
            if probed is not None and probed[0] == minor:
                found[minor] = probed[1]
                break
    return found


def _expose(interpreters: dict[str, str]) -> None:
    """Put links named ``python3.X`` to the found interpreters first on ``PATH``.

    Nox looks interpreters up by these names, so it then uses exactly the ones found.
    """
    folder = ROOT / ".nox" / "_interpreters"
    folder.mkdir(parents=True, exist_ok=True)
    for minor, executable in interpreters.items():
        link = folder / f"python{minor}"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(executable)
    os.environ["PATH"] = os.pathsep.join([str(folder), os.environ.get("PATH", "")])


INTERPRETERS = find_interpreters()
_expose(INTERPRETERS)


def lowest_constraints() -> list[str]:
    """``name==version`` for each runtime dependency, from its ``>=`` bound in pyproject.

    A dependency without a ``>=`` bound is an error: its lowest version would be a guess.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = []
    for line in project["dependencies"]:
        requirement = Requirement(line)
        bounds = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(bounds) != 1:
            raise ValueError(f"{line!r}: need exactly one '>=' bound to test its minimum")
        pins.append(f"{requirement.name}=={bounds[0]}")
    return pins


@nox.session(python=sorted(INTERPRETERS))
def tests(session: nox.Session) -> None:
    """The whole suite on one CPython, newest dependency versions."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


INSTALLED_VERSIONS = (
    "import json, sys; from importlib.metadata import version; "
    "print(json.dumps({name: version(name) for name in sys.argv[1:]}))"
)


@nox.session(python=LOWEST_PYTHON)
def lowest(session: nox.Session) -> None:
    """The whole suite with every runtime dependency at its declared minimum."""
    constraints = Path(session.create_tmp()) / "lowest.txt"
    constraints.write_text("\n".join(lowest_constraints()) + "\n")
    session.log("pinned: " + ", ".join(constraints.read_text().split()))
    session.install("-c", str(constraints), "-e", ".[dev]")
    # Proof that the pins held: a dev tool could otherwise have pulled a newer version.
    pins = [Requirement(pin) for pin in lowest_constraints()]
    names = [pin.name for pin in pins]
    report = session.run("python", "-c", INSTALLED_VERSIONS, *names, silent=True)
    installed = json.loads(str(report).strip().splitlines()[-1])
    wrong = [
        f"{pin.name} {installed[pin.name]} (want {pin.specifier})"
        for pin in pins
        if Version(installed[pin.name]) not in pin.specifier
    ]
    if wrong:
        session.error("not at the declared minimum: " + ", ".join(wrong))
    session.log("installed: " + json.dumps(installed))
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python=LOWEST_PYTHON)
def package(session: nox.Session) -> None:
    """Build, ``twine check``, and run the suite from the unpacked sdist."""
    session.install("build", "twine")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)  # a reused session's old builds would be ambiguous
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    built = sorted(str(path) for path in dist.iterdir())
    session.run("python", "-m", "twine", "check", "--strict", *built)
    (sdist,) = (path for path in built if path.endswith(".tar.gz"))
    unpacked = dist / "unpacked"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (source,) = unpacked.iterdir()
    session.chdir(str(source))
    session.install(".[dev]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)
