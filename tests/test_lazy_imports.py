"""What ``import qoder_async`` leaves for later, and that it still works when asked for.

Each check runs in a fresh interpreter, so nothing imported by other tests hides what
the import itself loads.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_import_defers_version_lookup_schedule_rules_and_the_converter() -> None:
    out = run_fresh(
        """
        import sys
        from qoder_async import QoderClient
        from qoder_async import _serde
        deferred = ["importlib.metadata", "zoneinfo", "qoder_async._schedule_rules"]
        print([name for name in deferred if name in sys.modules], _serde._converter_ready)
        """
    )
    assert out == "[] False"


def test_deferred_pieces_load_on_first_use() -> None:
    out = run_fresh(
        """
        import qoder_async
        from importlib.metadata import version
        from qoder_async import _validation
        from qoder_async._validation import build_create_body
        print(qoder_async.__version__ == version("qoder-async"))
        print("__version__" in qoder_async.__all__)
        print(_validation.cron_expression("0 9 * * 1-5"), _validation.time_zone("Asia/Shanghai"))
        body = build_create_body(
            name="n",
            agent="agent_" + "0" * 31 + "1",
            environment_id="env_" + "0" * 31 + "1",
            initial_events=[{"type": "user.message", "content": "hi"}],
            schedule={"type": "cron", "expression": "0 9 * * *", "timezone": "UTC"},
        )
        print(body["schedule"], body["initial_events"])
        """
    )
    assert out.splitlines() == [
        "True",
        "True",
        "0 9 * * 1-5 Asia/Shanghai",
        "{'type': 'cron', 'expression': '0 9 * * *', 'timezone': 'UTC'} "
        "[{'type': 'user.message', 'content': [{'type': 'text', 'text': 'hi'}]}]",
    ]


def test_first_unstructure_calls_racing_in_threads_all_see_the_full_converter() -> None:
    out = run_fresh(
        """
        import threading
        from datetime import datetime, timezone
        from qoder_async import _serde
        from qoder_async.models import ScheduleSpec, UserMessage

        value = {
            "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            "schedule": ScheduleSpec(expression="0 9 * * *", timezone="UTC"),
            "event": UserMessage(content="hi"),
        }
        start = threading.Barrier(8)
        results = []

        def first_call():
            start.wait()
            results.append(repr(_serde.unstructure(value)))

        threads = [threading.Thread(target=first_call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(len(results), len(set(results)))
        print(results[0])
        """
    )
    counts, encoded = out.splitlines()
    assert counts == "8 1"
    assert encoded == (
        "{'when': '2026-01-02T03:04:05Z', "
        "'schedule': {'expression': '0 9 * * *', 'timezone': 'UTC', 'type': 'cron'}, "
        "'event': {'type': 'user.message', 'content': 'hi'}}"
    )


def test_the_testing_package_imports_its_server_on_first_use() -> None:
    out = run_fresh(
        """
        import sys
        import qoder_async.testing as testing
        server_side = ["aiohttp.web", "qoder_async.testing.server"]
        print([name for name in server_side if name in sys.modules])
        from qoder_async.testing import FakeQoderServer, FaultPlan
        print(FakeQoderServer.__module__, FaultPlan.__module__)
        print([name for name in server_side if name in sys.modules] == server_side)
        print(sorted(set(testing.__all__) - set(dir(testing))))
        try:
            testing.NoSuchThing
        except AttributeError as exc:
            print(exc)
        """
    )
    assert out.splitlines() == [
        "[]",
        "qoder_async.testing.server qoder_async.testing.faults",
        "True",
        "[]",
        "module 'qoder_async.testing' has no attribute 'NoSuchThing'",
    ]


def test_loading_the_pytest_plugin_imports_neither_aiohttp_nor_the_client() -> None:
    # Python imports the package root before the plugin module, so this also proves
    # ``import qoder_async`` alone stays free.
    out = run_fresh(
        """
        import sys
        import qoder_async.testing.pytest_plugin
        print([name for name in ("aiohttp", "qoder_async.client") if name in sys.modules])
        """
    )
    assert out == "[]"


def test_every_public_name_of_the_lazy_package_resolves_and_is_listed() -> None:
    out = run_fresh(
        """
        import inspect
        import pydoc
        import sys

        import qoder_async
        from qoder_async import QoderClient, Timeouts, from_dict
        from qoder_async.client import QoderClient as home
        from qoder_async.config import Timeouts as timeouts_home

        print(QoderClient is home, Timeouts is timeouts_home, callable(from_dict))
        print(sorted(set(qoder_async.__all__) - set(dir(qoder_async))))
        values = {name: getattr(qoder_async, name) for name in qoder_async.__all__}
        print(sorted(name for name, value in values.items() if value is None))
        page = pydoc.render_doc(qoder_async, renderer=pydoc.plaintext)
        print([name for name in qoder_async.__all__ if name not in page])
        print(f"VERSION\\n    {qoder_async.__version__}" in page)
        print(qoder_async.errors.QoderError is values["QoderError"])
        print(inspect.ismodule(qoder_async.resources))
        try:
            qoder_async.NoSuchThing
        except AttributeError as exc:
            print(exc)
        """
    )
    assert out.splitlines() == [
        "True True True",
        "[]",
        "[]",
        "['__version__']",  # pydoc shows it as the VERSION section instead:
        "True",
        "True",
        "True",
        "module 'qoder_async' has no attribute 'NoSuchThing'",
    ]
