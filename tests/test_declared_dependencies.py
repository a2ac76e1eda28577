"""Every third-party package the code imports is one ``pyproject.toml`` declares.

A package that is only there because a dependency pulls it in (``multidict`` through
aiohttp) can disappear or change under a user when that dependency changes its own
requirements; the lowest-versions test run cannot see it either, as nothing pins it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qoder_async"
# Modules that run only with an extra installed: what they import may come from it.
NEEDS_AN_EXTRA = ("contrib/", "testing/pytest_plugin.py")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {_name(line) for line in project["dependencies"]}
    extras = {_name(line) for lines in project["optional-dependencies"].values() for line in lines}
    # An extra such as celery[redis] declares redis through celery's own extra.
    for line in (line for lines in project["optional-dependencies"].values() for line in lines):
        for extra in Requirement(line).extras:
            extras.add(_name(extra))
    return core, extras


def _name(requirement: str) -> str:
    return Requirement(requirement).name.lower().replace("_", "-")


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported at module level (not inside a function or a try block)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"qoder_async", "__future__"}


def undeclared_imports(core: set[str], extras: set[str]) -> list[str]:
    """``module: package`` for each module-level import no declared distribution covers."""
    distributions = importlib.metadata.packages_distributions()
    undeclared: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        allowed = core | extras if relative.startswith(NEEDS_AN_EXTRA) else core
        for module in sorted(_top_level_imports(path)):
            names = {_name(d) for d in distributions.get(module, [module])}
            if not names & allowed:
                undeclared.append(f"{relative}: {module}")
    return undeclared


def test_every_imported_package_is_declared() -> None:
    core, extras = _declared()
    assert undeclared_imports(core, extras) == []


def test_a_package_left_out_of_the_dependencies_is_named() -> None:
    core, extras = _declared()
    assert undeclared_imports(core - {"multidict"}, extras) == ["resources/_raw.py: multidict"]
    # A package that only an extra brings is fine in contrib, not in the core.
    assert undeclared_imports(core - {"attrs"}, extras | {"attrs"}) != []
