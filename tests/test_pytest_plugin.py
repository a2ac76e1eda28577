"""The pytest plugin, seen from a user's project that only installed the package.

Each scratch project is run by a fresh ``python -m pytest`` with its own ``pytest.ini``,
so nothing from this repository's configuration or already-imported modules leaks in.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from qoder_async import QoderClient
from qoder_async.testing import FakeQoderServer


def run_pytest(
    project: Path, files: dict[str, str], *args: str, ini: str = ""
) -> subprocess.CompletedProcess[str]:
    """Write ``files`` and a ``pytest.ini`` into ``project`` and run pytest there."""
    (project / "pytest.ini").write_text("[pytest]\n" + textwrap.dedent(ini))
    for name, text in files.items():
        (project / name).write_text(textwrap.dedent(text))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plugin_fixtures_work_in_a_scratch_project(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        {
            # An override in conftest.py (not only in the module) wins over the plugin's.
            "conftest.py": """
            import pytest

            from qoder_async.testing import Fault, FaultPlan


            @pytest.fixture
            def qoder_fake_server_options():
                return {"faults": FaultPlan().script("deployments.archive", [Fault.reset_after()])}
            """,
            "test_user.py": """
            import pytest


            @pytest.mark.asyncio
            async def test_my_cleanup_job(qoder_fake_server, qoder_client):
                (dep,) = qoder_fake_server.seed_deployments(1)
                archived = await qoder_client.deployments.archive(dep)
                assert archived.is_archived
                assert qoder_fake_server.deployment(dep).archived
                assert qoder_fake_server.applied_count(deployment_id=dep) == 1
                assert qoder_fake_server.request_count("deployments.archive") == 2
            """,
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_loading_the_plugin_imports_neither_the_server_nor_aiohttp_web(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        {
            "test_order.py": """
            import sys

            import pytest

            SERVER_SIDE = ("aiohttp.web", "qoder_async.testing.server", "qoder_async.testing.state")


            def test_a_without_fixtures():
                assert "qoder_async.testing.pytest_plugin" in sys.modules  # it is loaded
                assert [name for name in SERVER_SIDE if name in sys.modules] == []


            @pytest.mark.asyncio
            async def test_b_with_the_server(qoder_fake_server):
                assert [name for name in SERVER_SIDE if name in sys.modules] == list(SERVER_SIDE)
            """
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_client_options_and_a_module_scope_from_the_ini_file(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        {
            "test_scoped.py": """
            import pytest

            from qoder_async import InternalServerError, RetryPolicy
            from qoder_async.testing import Fault, FaultPlan

            SEEN = []


            @pytest.fixture(scope="module")
            def qoder_fake_server_options():
                return {"faults": FaultPlan().script("deployments.get", [Fault.server_error()])}


            @pytest.fixture(scope="module")
            def qoder_client_options():
                return {"retry": RetryPolicy(max_attempts=1)}


            async def test_first(qoder_fake_server, qoder_client):
                SEEN.append((qoder_fake_server, qoder_client))
                (dep,) = qoder_fake_server.seed_deployments(1)
                with pytest.raises(InternalServerError):  # no retry: the options applied
                    await qoder_client.deployments.get(dep)


            async def test_second_shares_them(qoder_fake_server, qoder_client):
                assert SEEN == [(qoder_fake_server, qoder_client)]
                (dep,) = [d.id for d in qoder_fake_server.deployments()]
                assert (await qoder_client.deployments.get(dep)).id == dep
            """
        },
        ini="""
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        asyncio_default_test_loop_scope = module
        qoder_async_fixture_scope = module
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_without_pytest_asyncio_the_async_fixtures_skip_and_the_rest_works(
    tmp_path: Path,
) -> None:
    result = run_pytest(
        tmp_path,
        {
            "test_sync.py": """
            def test_options(qoder_fake_server_options, qoder_client_options):
                assert qoder_fake_server_options == {} and qoder_client_options == {}


            def test_server(qoder_fake_server):
                raise AssertionError("not reached")


            def test_client(qoder_client):
                raise AssertionError("not reached")
            """
        },
        "-p",
        "no:asyncio",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 2 skipped" in result.stdout
    assert "the qoder_fake_server fixture needs pytest-asyncio" in result.stdout
    assert "the qoder_client fixture needs pytest-asyncio" in result.stdout


def test_an_unknown_scope_is_a_usage_error(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        {"test_nothing.py": "def test_nothing():\n    pass\n"},
        ini="qoder_async_fixture_scope = galaxy\n",
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert "qoder_async_fixture_scope must be one of" in result.stderr


async def test_fixtures_here(qoder_fake_server: FakeQoderServer, qoder_client: QoderClient) -> None:
    assert qoder_client.base_url == qoder_fake_server.url
    (dep,) = qoder_fake_server.seed_deployments(1)
    assert (await qoder_client.deployments.get(dep)).id == dep
