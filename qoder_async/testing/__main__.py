"""``python -m qoder_async.testing``: run the fake Qoder server standalone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from qoder_async.testing.faults import DEFAULT_RANDOM_KINDS, FAULT_KINDS, FaultKind, FaultPlan
from qoder_async.testing.server import DEFAULT_BASE_PATH, DEFAULT_TOKEN, ENDPOINTS, serve_forever
from qoder_async.testing.throttle import add_throttle_arguments, throttle_from_args


def _kinds(text: str) -> list[FaultKind]:
    kinds: list[FaultKind] = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        if name not in FAULT_KINDS:
            raise argparse.ArgumentTypeError(
                f"unknown fault kind {name!r} (choose from {', '.join(FAULT_KINDS)})"
            )
        kinds.append(name)
    return kinds


def _endpoints(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(names) - set(ENDPOINTS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown endpoint(s): {', '.join(unknown)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of the standalone fake server."""
    parser = argparse.ArgumentParser(
        prog="python -m qoder_async.testing",
        description="Run a fake Qoder Cloud Agents Deployments API on this machine.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to bind, 0 for any free port (default %(default)s)",
    )
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help=f"accepted bearer token; repeat for several (default {DEFAULT_TOKEN})",
    )
    parser.add_argument(
        "--base-path", default=DEFAULT_BASE_PATH, help="API path prefix (default %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for faults and ids (reproducible runs)"
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="probability of a random fault per request (0..1)",
    )
    parser.add_argument(
        "--fault-kinds",
        type=_kinds,
        default=None,
        help="comma-separated fault kinds for random faults "
        f"(default {','.join(DEFAULT_RANDOM_KINDS)})",
    )
    parser.add_argument(
        "--fault-endpoints",
        type=_endpoints,
        default=None,
        help="comma-separated endpoint names eligible for random faults (default: all)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument(
        "--seed-deployments",
        type=int,
        default=0,
        metavar="N",
        help="create N deployments at startup",
    )
    add_throttle_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and serve until interrupted (Ctrl-C)."""
    args = build_parser().parse_args(argv)
    try:
        plan = FaultPlan(
            seed=args.seed,
            rate=args.fault_rate,
            kinds=args.fault_kinds,
            endpoints=args.fault_endpoints,
        )
        throttle = throttle_from_args(args)
    except ValueError as exc:
        build_parser().error(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_forever(
                args.host,
                args.port,
                tokens=args.tokens,
                faults=plan,
                base_path=args.base_path,
                latency=args.latency,
                seed=args.seed,
                seed_deployments=args.seed_deployments,
                throttle=throttle,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
