"""The README's Python examples import, type-check and run against the real package."""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

from qoder_async import QoderClient
from qoder_async.testing import FakeQoderServer

README = Path(__file__).parents[1] / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def snippets() -> list[str]:
    """Each python block as a module; bare top-level awaits are wrapped in a coroutine."""
    modules = []
    for block in BLOCK.findall(README.read_text()):
        try:
            compile(block, "README.md", "exec")
        except SyntaxError:  # a fragment with a bare await: make it a coroutine body
            lines = block.splitlines()
            imports = [line for line in lines if line.startswith(("from ", "import "))]
            body = "\n".join(line for line in lines if line not in imports)
            block = "\n".join(["from qoder_async import QoderClient", *imports])
            block += "\n\n\nasync def snippet(client: QoderClient) -> None:\n"
            block += textwrap.indent(body, "    ") + "\n"
            compile(block, "README.md", "exec")
        modules.append(block)
    return modules


def test_readme_has_python_examples() -> None:
    assert len(snippets()) >= 6


def test_readme_examples_type_check(tmp_path: Path) -> None:
    paths = []
    for number, source in enumerate(snippets()):
        path = tmp_path / f"readme_snippet_{number}.py"
        path.write_text(source)
        paths.append(str(path))
    stdout, stderr, status = mypy_api.run(
        [
            "--config-file",
            os.devnull,  # not the project's --strict: user code may leave fixtures untyped
            "--check-untyped-defs",
            "--ignore-missing-imports",  # celery ships no type information
            "--cache-dir",
            str(tmp_path / ".mypy"),
            *paths,
        ]
    )
    assert status == 0, stdout + stderr


@pytest.mark.parametrize("number", range(len(snippets())))
def test_readme_example_imports_resolve(number: int) -> None:
    tree = ast.parse(snippets()[number])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qoder"):
            module = __import__(node.module, fromlist=[alias.name for alias in node.names])
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module}.{alias.name}"


# -- every snippet runs as written against the fake server ------------------------------

# These need a Redis server and worker processes besides the fake API; the runnable
# versions with both are examples/arq_archive.py and examples/celery_archive.py, which
# test_examples.py runs. Their definitions (worker settings, Celery app, task) still run.
NEEDS_REDIS_AND_WORKERS = {"archive_paused"}


def _is_pytest_module(source: str) -> bool:
    return "@pytest.fixture" in source or "\nasync def test_" in source


async def test_readme_snippets_run_against_the_fake_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each snippet is executed; each coroutine function it defines is awaited with the
    arguments its parameters name (``client``, ``ids``) against one fake server."""
    async with FakeQoderServer(seed=4) as server:
        server.seed_deployments(5, status="paused")
        server.seed_deployments(5)
        monkeypatch.setenv("QODER_PAT", server.token)
        monkeypatch.setenv("QODER_BASE_URL", server.url)
        called: list[str] = []
        skipped: set[str] = set()
        async with QoderClient() as client:
            for number, source in enumerate(snippets()):
                if _is_pytest_module(source):
                    continue  # run by pytest itself below
                namespace: dict[str, Any] = {"__name__": f"readme_snippet_{number}"}
                exec(compile(source, f"README.md python block {number}", "exec"), namespace)
                for name, value in list(namespace.items()):
                    if isinstance(value, QoderClient):
                        await value.aclose()  # built at module level by the snippet
                    if not inspect.iscoroutinefunction(value):
                        continue
                    if value.__module__ != namespace["__name__"]:
                        continue  # imported, not defined by the snippet
                    if name in NEEDS_REDIS_AND_WORKERS:
                        skipped.add(name)
                        continue
                    ids = server.seed_deployments(3)
                    pool = {"client": client, "ids": ids}
                    params = inspect.signature(value).parameters
                    await value(**{param: pool[param] for param in params})
                    called.append(name)
    assert skipped == NEEDS_REDIS_AND_WORKERS
    # The quick start, per-call options, tour, raw responses, pagination, bulk,
    # fake-server and metrics snippets.
    assert {
        "snippet",
        "options",
        "tour",
        "raw_response",
        "pages",
        "cleanup",
        "check",
        "measured",
    } <= set(called)


def test_every_pytest_snippet_is_run_by_the_testing_section_tests() -> None:
    """pytest modules in the README run under pytest in test_readme_testing_section.py,
    which reads only that section: none may live anywhere else and go unrun."""
    from tests.test_readme_testing_section import pytest_examples

    everywhere = [source for source in snippets() if _is_pytest_module(source)]
    assert everywhere
    assert len(everywhere) == len(pytest_examples())


def _shape(text: str) -> list[str]:
    """Lines with every number (``3,000``, ``9.96``, a port) as N and spacing collapsed:
    what stays the same between two demo runs of different sizes and speeds."""
    lines = (re.sub(r"\d[\d,.]*\d|\d", "N", line) for line in text.strip().splitlines())
    return [" ".join(line.split()) for line in lines]


async def test_readme_demo_output_matches_what_the_demo_prints() -> None:
    readme = README.read_text()
    block = readme.split("make demo   #", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QODER_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qoder_async", "demo", "--count", "250",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    assert _shape(block) == _shape(out.decode())
