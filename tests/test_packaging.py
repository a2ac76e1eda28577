"""The built distributions, as a user gets them from the package index.

The wheel is installed without extras into a fresh virtual environment (not this one),
where ``qoder-async --version`` and the README's opening example must work against the
fake server that ships in the wheel.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import qoder_async

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

pytestmark = pytest.mark.slow

# Runs inside the fresh environment: a fake server with paused and active deployments,
# the README example as written (wrapped in a coroutine for its top-level ``async with``),
# then what the server itself recorded.
DRIVER = """
import asyncio, importlib.util, os, sys

from qoder_async.testing import FakeQoderServer

EXAMPLE = sys.argv[1]


async def main() -> None:
    server = FakeQoderServer()
    await server.start()
    try:
        paused = server.seed_deployments(7, status="paused")
        server.seed_deployments(4)
        os.environ["QODER_PAT"] = server.token
        os.environ["QODER_BASE_URL"] = server.url
        namespace: dict = {}
        exec(compile(EXAMPLE, "README.md", "exec"), namespace)
        await namespace["readme_example"]()
        archived = sorted(i for i, n in server.archive_applications.items() if n)
        print("server archived paused:", archived == sorted(paused), len(archived))
    finally:
        await server.close()
    extras = ["arq", "celery", "orjson", "pytest"]
    print("extras present:", [name for name in extras if importlib.util.find_spec(name)])


asyncio.run(main())
"""


def readme_example() -> str:
    """The README's first Python block, as the body of ``async def readme_example()``."""
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert block is not None
    lines = block.group(1).splitlines()
    imports = [line for line in lines if line.startswith(("from ", "import "))]
    body = [line for line in lines if line not in imports]
    return "\n".join([*imports, "", "async def readme_example():", *("    " + ln for ln in body)])


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel built from this checkout (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def only(folder: Path, pattern: str) -> Path:
    (path,) = folder.glob(pattern)
    return path


def test_the_wheel_and_the_sdist_carry_the_license(dist: Path) -> None:
    version = qoder_async.__version__
    with zipfile.ZipFile(only(dist, "*.whl")) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"qoder_async-{version}.dist-info/METADATA").decode()
    assert f"qoder_async-{version}.dist-info/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata
    assert "License-File: LICENSE" in metadata
    with tarfile.open(only(dist, "*.tar.gz")) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert "LICENSE" in members


def test_the_sdist_carries_what_its_tests_read(dist: Path) -> None:
    with tarfile.open(only(dist, "*.tar.gz")) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in ("examples/quickstart.py", "benchmarks/__main__.py", "README.md"):
        assert needed in members
    shipped_tests = {name for name in members if name.startswith("tests/")}
    assert shipped_tests == {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_without_extras_runs_the_cli_and_the_readme_example(
    dist: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)  # this pip installs into it below
    python, cli = env_dir / "bin" / "python", env_dir / "bin" / "qoder-async"
    wheel = only(dist, "*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", wheel],
        check=True,
        capture_output=True,
        timeout=600,
    )

    version = subprocess.run(
        [cli, "--version"], check=True, capture_output=True, text=True, timeout=60
    )
    assert version.stdout.strip() == f"qoder-async {qoder_async.__version__}"

    example = readme_example()
    run = subprocess.run(
        [python, "-c", DRIVER, example],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the checkout: the installed package must be the one imported
    )
    assert run.returncode == 0, run.stderr
    assert "{'archived': 7}" in run.stdout, run.stdout
    assert "server archived paused: True 7" in run.stdout
    assert "extras present: []" in run.stdout
