"""Argument types and the options shared by every command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from qoder_async.testing.faults import FAULT_KINDS, Fault

__all__ = [
    "CommandParser",
    "Handler",
    "VersionAction",
    "add_command",
    "fault_kinds",
    "fraction",
    "global_options",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "seconds",
    "timestamp",
]

Handler = Callable[[argparse.Namespace], int]
"""A command: parsed arguments in, exit code out."""


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose sub-commands refuse unknown arguments themselves.

    Plain argparse hands a sub-command's unknown arguments back to the top-level parser,
    which then prints the top-level usage for ``deployments list --bogus``; here the
    sub-command that was given them prints its own usage instead.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


class VersionAction(argparse.Action):
    """``--version``: print ``qoder-async <version>`` and exit 0.

    The version is looked up only when asked for: reading the installed package's
    metadata costs milliseconds every other command would pay for nothing.
    """

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        import qoder_async

        sys.stdout.write(f"qoder-async {qoder_async.__version__}\n")
        parser.exit()


def positive_int(text: str) -> int:
    """An int >= 1 (``--concurrency``, ``--limit``, ``--count``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An int >= 0."""
    if text.strip() == "0":
        return 0
    return positive_int(text)


def positive_float(text: str) -> float:
    """A number > 0 (``--rate-limit``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def seconds(text: str) -> float:
    """A duration in seconds, >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    """A probability from 0 to 1 (``--fault-rate``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def timestamp(text: str) -> datetime:
    """ISO 8601 date or date-time; without an offset it is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 date or time such as 2026-06-01 or 2026-06-01T09:00Z, "
            f"got {text!r}"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def fault_kinds(text: str) -> list[Fault]:
    """Comma-separated fault kind names, as ``Fault`` values with default parameters."""
    kinds: list[Fault] = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        if name not in FAULT_KINDS:
            raise argparse.ArgumentTypeError(
                f"unknown fault kind {name!r} (choose from {', '.join(FAULT_KINDS)})"
            )
        kinds.append(Fault.of(name))
    return kinds


def global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, before or after the command name.

    On sub-commands the defaults are suppressed so that a value given before the command
    name is not overwritten by the sub-command's default.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--base-url",
        default=default(None),
        metavar="URL",
        help="API root (default: $QODER_BASE_URL, else https://api.qoder.com/api/v1/cloud)",
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=default(False),
        help="allow an http:// base URL to a host other than this machine (the token "
        "then crosses the network in clear text)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="machine-readable output: JSON for one object, JSON lines for lists and outcomes",
    )
    group.add_argument(
        "--concurrency",
        type=positive_int,
        default=default(32),
        metavar="N",
        help="most calls in flight for bulk work, a fixed cap (throttling is handled per "
        "call by the client; default 32)",
    )
    group.add_argument(
        "--rate-limit",
        type=positive_float,
        default=default(None),
        metavar="PER_SECOND",
        help="most bulk calls started per second (the API suggests 20 for writes; "
        "default: no fixed limit)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log each request and retry of the qoder_async logger to stderr",
    )


def add_command(
    subparsers: Any, name: str, handler: Handler, help_text: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A sub-command that takes the global options too and runs ``handler``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    global_options(parser, suppress=True)
    parser.set_defaults(handler=handler)
    return parser
