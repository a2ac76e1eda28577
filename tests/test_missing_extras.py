"""Importing an integration without its extra names the pip command that brings it.

Each case runs in a fresh interpreter where the dependency is made unimportable
(``sys.modules[name] = None``), as it is on a machine without the extra.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
sys.modules[{missing!r}] = None
try:
    import qoder_async.contrib.{module}
except ImportError as exc:
    print(type(exc).__name__, exc.name, exc, sep="|")
else:
    print("imported")
"""


@pytest.mark.parametrize(
    ("module", "missing"),
    [("arq", "arq"), ("arq", "redis"), ("celery", "celery")],
)
def test_a_missing_extra_is_named_with_its_pip_command(module: str, missing: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, missing=missing)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    kind, name, message = result.stdout.strip().split("|")
    assert kind == "ImportError"
    assert name == missing
    assert f"pip install 'qoder-async[{module}]'" in message


@pytest.mark.parametrize("module", ["arq", "celery"])
def test_with_the_extra_installed_the_module_imports(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, missing="not_a_real_module")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "imported"
