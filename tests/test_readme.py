"""The README's Python examples import and type-check against the real package."""

from __future__ import annotations

import ast
import os
import re
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

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
