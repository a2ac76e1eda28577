"""The argparse definition of every command and option, with its ``--help`` text."""

from __future__ import annotations

import argparse
from typing import Any

from qoder_async._literals import DEPLOYMENT_STATUSES, RUN_STATUSES, TRIGGER_TYPES
from qoder_async.cli import _bulk, _commands, _completion, _demo, _serve
from qoder_async.cli._args import (
    CommandParser,
    VersionAction,
    add_command,
    fault_kinds,
    fraction,
    global_options,
    non_negative_int,
    positive_int,
    seconds,
    timestamp,
)
from qoder_async.testing.faults import FAULT_KINDS
from qoder_async.testing.throttle import add_throttle_arguments

__all__ = ["LIST_PAGE", "build_parser"]

LIST_PAGE = 30
"""Deployments ``deployments list`` shows unless told otherwise (as ``gh`` shows 30)."""

DESCRIPTION = """\
Command line for the Qoder Cloud Agents Deployments API.

The API token is read from the QODER_PAT environment variable only (a flag would show
in `ps`); the base URL from --base-url or QODER_BASE_URL. Exit codes: 0 success,
1 an API error or some items not archived, 2 a usage or configuration error,
130 interrupted with Ctrl-C."""

EPILOG = """\
examples:
  qoder-async demo                                  # no account needed
  export QODER_PAT=pt-...
  qoder-async deployments list --status paused
  qoder-async --json deployments get dep_...
  qoder-async bulk-archive --agent-id agent_... --dry-run
  qoder-async bulk-archive --file ids.txt --results done.jsonl --resume --yes
  source <(qoder-async completion bash)             # tab completion (bash or zsh)"""


def _limit_option(parser: argparse.ArgumentParser, noun: str) -> None:
    parser.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help=f"show at most N {noun} (default: all; pages are fetched lazily)",
    )


def _deployment_field_options(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    need = " (required unless given in --from-json)" if creating else ""
    parser.add_argument("--name", help=f"display name, at most 256 characters{need}")
    parser.add_argument("--agent", metavar="AGENT_ID", help=f"agent to run (agent_…){need}")
    parser.add_argument(
        "--agent-version", type=positive_int, metavar="N", help="pin this agent version"
    )
    parser.add_argument(
        "--environment-id", metavar="ENV_ID", help=f"environment to run in (env_…){need}"
    )
    parser.add_argument(
        "--message",
        action="append",
        metavar="TEXT",
        help="a user message each run starts with; repeat for several "
        f"(replaces the list on update){need}",
    )
    parser.add_argument("--cron", metavar="EXPR", help='5-field cron schedule, e.g. "0 9 * * 1-5"')
    parser.add_argument(
        "--timezone", metavar="TZ", help="IANA time zone of --cron (default UTC); needs --cron"
    )
    parser.add_argument("--description", help="free-text description")
    parser.add_argument(
        "--metadata", action="append", metavar="KEY=VALUE", help="set a metadata key; repeatable"
    )
    if not creating:
        parser.add_argument(
            "--unset-metadata", action="append", metavar="KEY", help="delete a metadata key"
        )
    parser.add_argument(
        "--vault-id", action="append", metavar="VAULT_ID", help="credential vault; repeatable"
    )
    parser.add_argument(
        "--environment-variables", metavar="KEY=VALUE;…", help="environment variables of runs"
    )
    parser.add_argument(
        "--from-json",
        metavar="PATH",
        help="read fields from a JSON object (as in the API body; - for stdin); "
        "flags override its keys",
    )
    parser.add_argument("--idempotency-key", metavar="KEY", help="reuse a key to make retries safe")


def _deployments(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "deployments",
        help="list, show, create, change, pause, unpause, archive and run deployments",
        description="Work with deployments.",
    )
    commands = group.add_subparsers(dest="deployments_command", metavar="COMMAND", required=True)

    listing = add_command(
        commands, "list", _commands.cmd_deployments_list, "list deployments, newest first"
    )
    listing.add_argument("--status", choices=sorted(DEPLOYMENT_STATUSES), help="only this status")
    listing.add_argument(
        "--include-archived", action="store_true", help="include archived deployments"
    )
    listing.add_argument("--agent-id", metavar="AGENT_ID", help="only deployments of this agent")
    listing.add_argument(
        "--created-after", type=timestamp, metavar="TIME", help="created at or after (ISO 8601)"
    )
    listing.add_argument(
        "--created-before", type=timestamp, metavar="TIME", help="created at or before (ISO 8601)"
    )
    shown = listing.add_mutually_exclusive_group()
    shown.add_argument(
        "--limit",
        type=positive_int,
        default=LIST_PAGE,
        metavar="N",
        help=f"show at most N deployments (default {LIST_PAGE})",
    )
    shown.add_argument(
        "--all",
        dest="everything",
        action="store_true",
        help="show every deployment (pages are fetched as they are printed)",
    )

    get = add_command(commands, "get", _commands.cmd_deployments_get, "show one deployment")
    get.add_argument("deployment_id", metavar="DEPLOYMENT_ID", help="dep_… id")

    create = add_command(
        commands,
        "create",
        _commands.cmd_deployments_create,
        "create a deployment",
        "Create a deployment (manual-only unless --cron is given).",
    )
    _deployment_field_options(create, creating=True)

    update = add_command(
        commands,
        "update",
        _commands.cmd_deployments_update,
        "change fields of a deployment",
        "Change only the fields given (metadata is merged; lists are replaced).",
    )
    update.add_argument("deployment_id", metavar="DEPLOYMENT_ID", help="dep_… id")
    _deployment_field_options(update, creating=False)

    actions = {
        "pause": "stop scheduled runs (409 if already paused)",
        "unpause": "resume scheduled runs (409 if not paused)",
        "archive": "archive for good; cannot be undone (409 if already archived)",
    }
    for action, text in actions.items():
        parser = add_command(commands, action, _commands.cmd_deployments_action, text)
        parser.add_argument("deployment_id", metavar="DEPLOYMENT_ID", help="dep_… id")
        parser.add_argument("--idempotency-key", metavar="KEY", help="reuse a key for a safe retry")
        parser.set_defaults(action=action)
        if action == "archive":
            parser.add_argument(
                "-y",
                "--yes",
                action="store_true",
                help="do not ask for confirmation (needed when stdin is not a terminal)",
            )

    run = add_command(
        commands, "run", _commands.cmd_deployments_run, "trigger a manual run now (active only)"
    )
    run.add_argument("deployment_id", metavar="DEPLOYMENT_ID", help="dep_… id")
    run.add_argument("--idempotency-key", metavar="KEY", help="reuse a key for a safe retry")


def _runs(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "runs", help="list and show deployment runs", description="Work with deployment runs."
    )
    commands = group.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)
    listing = add_command(
        commands,
        "list",
        _commands.cmd_runs_list,
        "list runs of one deployment, or of all with --all",
        "List runs, newest first: `runs list DEPLOYMENT_ID`, or `runs list --all` for "
        "every deployment (with more filters).",
    )
    listing.add_argument("deployment_id", nargs="?", metavar="DEPLOYMENT_ID", help="dep_… id")
    listing.add_argument("--all", action="store_true", help="runs of every deployment")
    listing.add_argument("--status", choices=sorted(RUN_STATUSES), help="only this status")
    listing.add_argument(
        "--trigger-type", choices=sorted(TRIGGER_TYPES), help="only this trigger (with --all)"
    )
    errors = listing.add_mutually_exclusive_group()
    errors.add_argument(
        "--has-error",
        dest="has_error",
        action="store_true",
        default=None,
        help="only failed runs with an error (with --all)",
    )
    errors.add_argument(
        "--no-error",
        dest="has_error",
        action="store_false",
        help="only runs without an error (with --all)",
    )
    _limit_option(listing, "runs")
    get = add_command(
        commands,
        "get",
        _commands.cmd_runs_get,
        "show one run",
        "Show one run: `runs get RUN_ID`, or `runs get DEPLOYMENT_ID RUN_ID` to read it "
        "through its deployment.",
    )
    get.add_argument("ids", nargs="+", metavar="ID", help="[DEPLOYMENT_ID] RUN_ID")


def _bulk_archive(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "bulk-archive",
        _bulk.cmd_bulk_archive,
        "archive many deployments concurrently",
        _bulk.DESCRIPTION,
    )
    source = parser.add_argument_group("which deployments (one source)")
    source.add_argument("ids", nargs="*", metavar="DEPLOYMENT_ID", help="ids to archive")
    source.add_argument(
        "--file",
        metavar="PATH",
        help='read ids from a file, one per line (- for stdin; JSON lines with an "id" '
        "also work); stdin is read anyway when it is piped and nothing else is given",
    )
    source.add_argument("--agent-id", metavar="AGENT_ID", help="filter: deployments of this agent")
    source.add_argument(
        "--status", choices=sorted(DEPLOYMENT_STATUSES), help="filter: only this status"
    )
    source.add_argument("--name-prefix", metavar="TEXT", help="filter: names starting with TEXT")
    source.add_argument(
        "--created-before", type=timestamp, metavar="TIME", help="filter: created at or before"
    )
    source.add_argument(
        "--created-after", type=timestamp, metavar="TIME", help="filter: created at or after"
    )
    safety = parser.add_argument_group("safety")
    safety.add_argument(
        "--dry-run",
        action="store_true",
        help="send no write: list what would be archived (explicit ids are read to count "
        "how many exist, are already archived or are unknown)",
    )
    safety.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help=f"do not ask for confirmation (needed for more than {_bulk.CONFIRM_ABOVE} ids "
        "when stdin is not a terminal)",
    )
    safety.add_argument(
        "--results",
        metavar="PATH",
        help="append one JSON line per outcome to PATH as each finishes",
    )
    safety.add_argument(
        "--resume",
        action="store_true",
        help="skip ids that --results PATH records as final: archived, already archived "
        "or not found (a missing file counts as empty, so the same command can be re-run "
        "until it succeeds)",
    )
    parser.add_argument(
        "--progress-every",
        type=seconds,
        default=10.0,
        metavar="SECONDS",
        help="when stderr is not a terminal, print a progress line this often (default 10)",
    )


def _fake_server(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "fake-server",
        _serve.cmd_fake_server,
        "run the fake Qoder API on 127.0.0.1 (for trying the CLI and for tests)",
        "Run the in-memory fake Qoder Deployments API on 127.0.0.1 until Ctrl-C. It prints "
        "the URL and its (fixed, fake) token to export.",
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port to listen on; 0 picks a free one (8080)"
    )
    parser.add_argument("--seed", type=int, help="seed for ids and faults (reproducible runs)")
    parser.add_argument(
        "--fault-rate",
        type=fraction,
        default=0.0,
        metavar="P",
        help="probability that a request gets a random fault (0..1, default 0)",
    )
    parser.add_argument(
        "--fault-kinds",
        type=fault_kinds,
        metavar="KIND,…",
        help=f"faults to draw from: {', '.join(FAULT_KINDS)} "
        "(default: rate_limited, unavailable, server_error, reset_before, reset_after)",
    )
    parser.add_argument(
        "--latency",
        type=seconds,
        default=0.0,
        metavar="SECONDS",
        help="delay added to every request",
    )
    parser.add_argument(
        "--seed-deployments",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="start with N deployments",
    )
    add_throttle_arguments(parser)


def _demo_command(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "demo",
        _demo.cmd_demo,
        "archive thousands of deployments against a faulty fake API (no account needed)",
        _demo.__doc__,
    )
    parser.add_argument(
        "--count",
        type=positive_int,
        default=_demo.DEFAULT_COUNT,
        metavar="N",
        help=f"deployments to create through the API (default {_demo.DEFAULT_COUNT:,})",
    )
    parser.add_argument(
        "--seed", type=int, default=_demo.DEFAULT_SEED, help="seed for faults and ids"
    )
    parser.add_argument(
        "--fault-rate",
        type=fraction,
        default=_demo.DEFAULT_FAULT_RATE,
        metavar="P",
        help=f"share of write and list calls that fail (default {_demo.DEFAULT_FAULT_RATE})",
    )


def _completion_command(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "completion",
        _completion.cmd_completion,
        "print a shell completion script (bash or zsh)",
        _completion.DESCRIPTION,
    )
    parser.add_argument("shell", choices=_completion.SHELLS, help="the shell to complete in")


def build_parser() -> argparse.ArgumentParser:
    """The ``qoder-async`` argument parser."""
    parser = CommandParser(
        prog="qoder-async",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=VersionAction, help="print the version (qoder-async X.Y.Z) and exit"
    )
    global_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _deployments(subparsers)
    _runs(subparsers)
    _bulk_archive(subparsers)
    _fake_server(subparsers)
    _demo_command(subparsers)
    _completion_command(subparsers)
    return parser
