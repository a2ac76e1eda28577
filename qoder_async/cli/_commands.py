"""``deployments …`` and ``runs …``: one handler per command.

Each handler takes the parsed arguments and returns the exit code; errors propagate to
``main``, which prints them as one line.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from qoder_async import _validation
from qoder_async.cli._output import (
    DEPLOYMENT_HEADERS,
    RUN_HEADERS,
    deployment_details,
    deployment_row,
    format_table,
    format_tsv,
    plural,
    print_json,
    print_json_line,
    run_details,
    run_row,
)
from qoder_async.cli._runtime import EXIT_FAILED, EXIT_OK, UsageError, with_client
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
    *,
    limit: int | None,
    more_hint: str,
) -> int:
    """Print at most ``limit`` items (``None``: all), then say on stderr if more exist.

    ``--json`` streams JSON lines. Otherwise a terminal gets one aligned table with
    headers; a pipe gets tab-separated rows without headers, page by page, as ``gh``
    prints them. Messages go to stderr so a pipe only ever sees data.
    """
    table = not args.json and sys.stdout.isatty()
    rows: list[tuple[object, ...]] = []
    shown = 0
    more = False
    async for page in paginator.pages():
        batch = list(page.data)
        if limit is not None and shown + len(batch) >= limit:
            more = shown + len(batch) > limit or page.has_more
            batch = batch[: limit - shown]
        shown += len(batch)
        if args.json:
            for item in batch:
                print_json_line(item, sys.stdout)
        elif table:
            rows.extend(row(item) for item in batch)
        elif batch:
            print(format_tsv(row(item) for item in batch), flush=True)
        if limit is not None and shown >= limit:
            break
    if table and rows:
        print(format_table(headers, rows))
    if not shown:
        print(f"no {noun}s found", file=sys.stderr)
    if more:
        print(f"showing the first {plural(shown, noun)}; {more_hint}", file=sys.stderr)
    return EXIT_OK


def _page_size(limit: int | None) -> int:
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


BODY_FIELDS = tuple(inspect.signature(_validation.build_update_body).parameters)
"""The fields ``--from-json`` may hold: those ``create`` and ``update`` send."""


def _check_body_keys(loaded: dict[str, Any]) -> None:
    unknown = [key for key in loaded if key not in BODY_FIELDS]
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(str(key), BODY_FIELDS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UsageError(
        f"--from-json: unknown field {key!r}{hint}; "
        f"the fields a deployment body takes are {', '.join(sorted(BODY_FIELDS))}"
    )


def _fields(args: argparse.Namespace, *, creating: bool) -> dict[str, Any]:
    """Keyword arguments for ``create`` / ``update`` from ``--from-json`` plus the flags."""
    fields: dict[str, Any] = {}
    if args.from_json is not None:
        loaded = read_json_arg(args.from_json, "the deployment body")
        if not isinstance(loaded, dict):
            raise UsageError("--from-json must hold a JSON object of deployment fields")
        _check_body_keys(loaded)
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
        timezone = "UTC" if args.timezone is None else args.timezone
        fields["schedule"] = {"type": "cron", "expression": args.cron, "timezone": timezone}
    elif args.timezone is not None:
        # A schedule is sent whole (expression and time zone), so a zone alone has
        # nothing to attach to.
        raise UsageError(
            "--timezone is the time zone of --cron: give --cron EXPR with it (the "
            "schedule is replaced whole, so repeat the current expression to move it)"
        )
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
    """``deployments list``: a page of 30 unless ``--limit N`` or ``--all``."""
    limit: int | None = None if args.everything else args.limit

    async def work(client: QoderClient) -> int:
        paginator = client.deployments.list(
            status=args.status,
            include_archived=True if args.include_archived else None,
            agent_id=args.agent_id,
            created_after=args.created_after,
            created_before=args.created_before,
            limit=_page_size(limit),
        )
        return await _print_list(
            args,
            paginator,
            DEPLOYMENT_HEADERS,
            deployment_row,
            "deployment",
            limit=limit,
            more_hint="use --limit N or --all to see more",
        )

    return with_client(args, work)


def cmd_deployments_get(args: argparse.Namespace) -> int:
    """``deployments get ID``."""

    async def work(client: QoderClient) -> int:
        _show(args, await client.deployments.get(args.deployment_id))
        return EXIT_OK

    return with_client(args, work)


def cmd_deployments_create(args: argparse.Namespace) -> int:
    """``deployments create``."""
    fields = _fields(args, creating=True)

    async def work(client: QoderClient) -> int:
        deployment = await client.deployments.create(**fields)
        _show(args, deployment)
        return EXIT_OK

    return with_client(args, work)


def cmd_deployments_update(args: argparse.Namespace) -> int:
    """``deployments update ID``."""
    fields = _fields(args, creating=False)

    async def work(client: QoderClient) -> int:
        deployment = await client.deployments.update(args.deployment_id, **fields)
        _show(args, deployment)
        return EXIT_OK

    return with_client(args, work)


def _confirmed_archive(deployment_id: str) -> bool:
    """Ask on the terminal; refuse (exit 2) when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        raise UsageError(
            f"refusing to archive {deployment_id} without confirmation: stdin is not a "
            "terminal; pass --yes to confirm"
        )
    sys.stderr.write(f"Archive {deployment_id}? Archiving cannot be undone. [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def cmd_deployments_action(args: argparse.Namespace) -> int:
    """``deployments pause|unpause|archive ID``; archive asks first unless ``--yes``."""
    asking = args.action == "archive" and not args.yes
    # The id is checked first: a typo should be reported, not confirmed.
    if asking and not _confirmed_archive(_validation.deployment_id(args.deployment_id)):
        print("aborted; nothing was archived", file=sys.stderr)
        return EXIT_FAILED

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
                limit=_page_size(args.limit),
            )
        else:
            paginator = client.deployments.runs.list(
                args.deployment_id, status=args.status, limit=_page_size(args.limit)
            )
        return await _print_list(
            args,
            paginator,
            RUN_HEADERS,
            run_row,
            "run",
            limit=args.limit,
            more_hint="raise --limit to see more",
        )

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
