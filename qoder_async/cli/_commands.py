"""``deployments …``, ``runs …`` and ``fake-server``: one handler per command.

Each handler takes the parsed arguments and returns the exit code; errors propagate to
``main``, which prints them as one line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from qoder_async.cli._output import (
    DEPLOYMENT_HEADERS,
    RUN_HEADERS,
    deployment_details,
    deployment_row,
    format_table,
    print_json,
    print_json_line,
    run_details,
    run_row,
)
from qoder_async.cli._runtime import EXIT_OK, UsageError, run_async, with_client
from qoder_async.client import QoderClient
from qoder_async.models import Deployment, DeploymentRun
from qoder_async.pagination import AsyncPaginator

__all__ = [
    "cmd_deployments_action",
    "cmd_deployments_create",
    "cmd_deployments_get",
    "cmd_deployments_list",
    "cmd_deployments_run",
    "cmd_deployments_update",
    "cmd_fake_server",
    "cmd_runs_get",
    "cmd_runs_list",
    "read_json_arg",
]

T = TypeVar("T")
PAGE_SIZE = 100
"""Items per list request: the documented safe maximum (some pages cap at 100)."""


# -- shared helpers ---------------------------------------------------------------------


def _show(args: argparse.Namespace, obj: Deployment | DeploymentRun) -> None:
    if args.json:
        print_json(obj, sys.stdout)
    elif isinstance(obj, Deployment):
        print(deployment_details(obj))
    else:
        print(run_details(obj))


async def _print_list(
    args: argparse.Namespace,
    paginator: AsyncPaginator[T],
    headers: tuple[str, ...],
    row: Callable[[T], tuple[object, ...]],
    noun: str,
) -> int:
    """Stream JSON lines, or collect rows for one aligned table; stop at ``--limit``."""
    limit: int | None = args.limit
    rows: list[tuple[object, ...]] = []
    shown = 0
    more = False
    async for page in paginator.pages():
        for item in page.data:
            if limit is not None and shown >= limit:
                more = True
                break
            shown += 1
            if args.json:
                print_json_line(item, sys.stdout)
            else:
                rows.append(row(item))
        if more or (limit is not None and shown >= limit):
            more = more or page.has_more
            break
    if not args.json:
        print(format_table(headers, rows) if rows else f"no {noun} found")
    if more:
        print(f"showing the first {shown} {noun}; raise --limit to see more", file=sys.stderr)
    return EXIT_OK


def _page_size(args: argparse.Namespace) -> int:
    limit: int | None = args.limit
    return PAGE_SIZE if limit is None else max(1, min(PAGE_SIZE, limit))


def read_json_arg(path: str, what: str) -> Any:
    """JSON from a file, or from stdin when ``path`` is ``-``."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {what} from {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} in {path} is not valid JSON: {exc}") from None


def _key_values(pairs: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} expects KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def _fields(args: argparse.Namespace, *, creating: bool) -> dict[str, Any]:
    """Keyword arguments for ``create`` / ``update`` from ``--from-json`` plus the flags."""
    fields: dict[str, Any] = {}
    if args.from_json is not None:
        loaded = read_json_arg(args.from_json, "the deployment body")
        if not isinstance(loaded, dict):
            raise UsageError("--from-json must hold a JSON object of deployment fields")
        fields.update(loaded)
    for key in ("name", "description", "environment_id", "environment_variables"):
        value = getattr(args, key)
        if value is not None:
            fields[key] = value
    if args.agent is not None:
        fields["agent"] = (
            args.agent
            if args.agent_version is None
            else {"id": args.agent, "type": "agent", "version": args.agent_version}
        )
    elif args.agent_version is not None:
        raise UsageError("--agent-version needs --agent")
    if args.message:
        fields["initial_events"] = [{"type": "user.message", "content": m} for m in args.message]
    if args.cron is not None:
        fields["schedule"] = {"type": "cron", "expression": args.cron, "timezone": args.timezone}
    metadata: dict[str, str | None] = dict(_key_values(args.metadata, "--metadata"))
    for key in getattr(args, "unset_metadata", None) or ():
        metadata[key] = None  # merge-patch: null deletes the key
    if metadata:
        fields["metadata"] = {**fields.get("metadata", {}), **metadata}
    if args.vault_id:
        fields["vault_ids"] = list(args.vault_id)
    if args.idempotency_key is not None:
        fields["idempotency_key"] = args.idempotency_key
    if creating:
        missing = [
            flag
            for key, flag in (
                ("name", "--name"),
                ("agent", "--agent"),
                ("environment_id", "--environment-id"),
                ("initial_events", "--message"),
            )
            if key not in fields
        ]
        if missing:
            raise UsageError(f"create needs {', '.join(missing)} (or those fields in --from-json)")
    return fields


# -- deployments ------------------------------------------------------------------------


def cmd_deployments_list(args: argparse.Namespace) -> int:
    """``deployments list``."""

    async def work(client: QoderClient) -> int:
        paginator = client.deployments.list(
            status=args.status,
            include_archived=True if args.include_archived else None,
            agent_id=args.agent_id,
            created_after=args.created_after,
            created_before=args.created_before,
            limit=_page_size(args),
        )
        return await _print_list(args, paginator, DEPLOYMENT_HEADERS, deployment_row, "deployments")

    return with_client(args, work)


def cmd_deployments_get(args: argparse.Namespace) -> int:
    """``deployments get ID``."""

    async def work(client: QoderClient) -> int:
        _show(args, await client.deployments.get(args.deployment_id))
        return EXIT_OK

    return with_client(args, work)


def _refused_type(exc: TypeError) -> UsageError:
    # The SDK raises TypeError for a field of the wrong JSON type in --from-json.
    return UsageError(str(exc))


def cmd_deployments_create(args: argparse.Namespace) -> int:
    """``deployments create``."""
    fields = _fields(args, creating=True)

    async def work(client: QoderClient) -> int:
        try:
            deployment = await client.deployments.create(**fields)
        except TypeError as exc:
            raise _refused_type(exc) from None
        _show(args, deployment)
        return EXIT_OK

    return with_client(args, work)


def cmd_deployments_update(args: argparse.Namespace) -> int:
    """``deployments update ID``."""
    fields = _fields(args, creating=False)

    async def work(client: QoderClient) -> int:
        try:
            deployment = await client.deployments.update(args.deployment_id, **fields)
        except TypeError as exc:
            raise _refused_type(exc) from None
        _show(args, deployment)
        return EXIT_OK

    return with_client(args, work)


def cmd_deployments_action(args: argparse.Namespace) -> int:
    """``deployments pause|unpause|archive ID``."""

    async def work(client: QoderClient) -> int:
        action = getattr(client.deployments, args.action)
        _show(args, await action(args.deployment_id, idempotency_key=args.idempotency_key))
        return EXIT_OK

    return with_client(args, work)


def cmd_deployments_run(args: argparse.Namespace) -> int:
    """``deployments run ID``: trigger a manual run now."""

    async def work(client: QoderClient) -> int:
        run = await client.deployments.run(args.deployment_id, idempotency_key=args.idempotency_key)
        _show(args, run)
        return EXIT_OK

    return with_client(args, work)


# -- runs -------------------------------------------------------------------------------


def cmd_runs_list(args: argparse.Namespace) -> int:
    """``runs list DEPLOYMENT_ID`` or ``runs list --all``."""
    if args.all == (args.deployment_id is not None):
        raise UsageError("give a deployment id, or --all for runs of every deployment")
    if not args.all and (args.trigger_type is not None or args.has_error is not None):
        raise UsageError("--trigger-type, --has-error and --no-error need --all")

    async def work(client: QoderClient) -> int:
        if args.all:
            paginator = client.deployment_runs.list(
                status=args.status,
                trigger_type=args.trigger_type,
                has_error=args.has_error,
                limit=_page_size(args),
            )
        else:
            paginator = client.deployments.runs.list(
                args.deployment_id, status=args.status, limit=_page_size(args)
            )
        return await _print_list(args, paginator, RUN_HEADERS, run_row, "runs")

    return with_client(args, work)


def cmd_runs_get(args: argparse.Namespace) -> int:
    """``runs get RUN_ID`` or ``runs get DEPLOYMENT_ID RUN_ID``."""
    ids: list[str] = args.ids
    if len(ids) not in (1, 2):
        raise UsageError("runs get takes RUN_ID, or DEPLOYMENT_ID RUN_ID")

    async def work(client: QoderClient) -> int:
        if len(ids) == 1:
            run = await client.deployment_runs.get(ids[0])
        else:
            run = await client.deployments.runs.get(ids[0], ids[1])
        _show(args, run)
        return EXIT_OK

    return with_client(args, work)


# -- fake-server ------------------------------------------------------------------------


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
