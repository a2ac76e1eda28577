"""One client across two ``asyncio.run()`` calls: the first loop's sockets close at once.

The script runs in a fresh interpreter with ``-W error::ResourceWarning`` so that an
"unclosed transport" (which the garbage collector reports from a finaliser, where no
test could catch it) fails the run, and with a hook that turns any such unraisable
report into a non-zero exit.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, sys, threading
    from pathlib import Path

    from aiohttp import web

    from qoder_async import QoderClient

    problems = []
    sys.unraisablehook = lambda report: problems.append(repr(report.exc_value))

    DEP = "dep_019ec556114c78f8b60ee34fcb98bf59"
    BODY = Path(sys.argv[1]).read_bytes()
    ready = threading.Event()
    state = {}
    open_connections = set()


    async def get(request):
        open_connections.add(request.transport)
        return web.Response(body=BODY, content_type="application/json")


    def serve():
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/api/v1/cloud/deployments/{id}", get)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        state["port"] = site._server.sockets[0].getsockname()[1]
        state["loop"] = loop
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()


    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    url = f"http://127.0.0.1:{state['port']}/api/v1/cloud"
    client = QoderClient("pt-loop-test", base_url=url)


    async def first():
        assert (await client.deployments.get(DEP)).id == DEP


    async def second():
        assert (await client.deployments.get(DEP)).id == DEP
        # The first loop's connection was closed when the pool was rebuilt.
        await asyncio.sleep(0.2)
        lingering = [t for t in open_connections if not t.is_closing()]
        assert len(lingering) == 1, f"{len(lingering)} connections still open"
        await client.aclose()


    asyncio.run(first())
    asyncio.run(second())
    gc.collect()
    state["loop"].call_soon_threadsafe(state["loop"].stop)
    thread.join(10)
    if problems:
        print("\\n".join(problems), file=sys.stderr)
        sys.exit(3)
    print("ok")
    """
)


def test_one_client_across_two_asyncio_runs_leaks_nothing(tmp_path: Path) -> None:
    script = tmp_path / "two_loops.py"
    script.write_text(SCRIPT)
    fixture = ROOT / "tests" / "fixtures" / "deployment.json"
    result = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", str(script), str(fixture)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "ResourceWarning" not in result.stderr
    assert "unclosed" not in result.stderr.lower()
