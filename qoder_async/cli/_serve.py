"""``fake-server``: serve the fake Qoder API on 127.0.0.1 until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys

from qoder_async.cli._runtime import EXIT_OK, UsageError, run_async

__all__ = ["cmd_fake_server"]


def _drop_client_gone(record: logging.LogRecord) -> bool:
    """Hide aiohttp's traceback for a client that hung up mid-request (e.g. a CLI run
    stopped with Ctrl-C): routine for a test server, alarming in a terminal."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, ConnectionResetError)


def cmd_fake_server(args: argparse.Namespace) -> int:
    """``fake-server``: serve the fake API on 127.0.0.1 until Ctrl-C or SIGTERM."""
    # Imported here: the fake server is a testing tool, not needed by other commands.
    from qoder_async.testing import FakeQoderServer, FaultPlan
    from qoder_async.testing.throttle import throttle_from_args

    try:
        plan = FaultPlan(seed=args.seed, rate=args.fault_rate, kinds=args.fault_kinds)
    except ValueError as exc:
        raise UsageError(f"bad fault options: {exc}") from None
    try:
        throttle = throttle_from_args(args)
    except ValueError as exc:
        raise UsageError(f"bad throttle options: {exc}") from None
    if args.latency < 0:
        raise UsageError("--latency must be >= 0")
    if args.seed_deployments < 0:
        raise UsageError("--seed-deployments must be >= 0")

    if not args.verbose:
        logging.getLogger("aiohttp.server").addFilter(_drop_client_gone)

    async def serve() -> int:
        server = FakeQoderServer(
            port=args.port, faults=plan, latency=args.latency, seed=args.seed, throttle=throttle
        )
        if args.seed_deployments:
            server.seed_deployments(args.seed_deployments)
        try:
            await server.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # SIGTERM (what `kill` and process managers send) stops as cleanly as Ctrl-C.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        try:
            if args.json:
                print(json.dumps({"url": server.url, "token": server.token}), flush=True)
            else:
                # This token is the fake server's own fixed test token, not a secret.
                print(f"Fake Qoder server listening on {server.url}")
                print(f"  export QODER_BASE_URL={server.url}")
                print(f"  export QODER_PAT={server.token}")
                print("Press Ctrl-C to stop.", flush=True)
            await stop.wait()
        finally:
            await server.close()
        return EXIT_OK

    try:
        return run_async(serve())
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return EXIT_OK
