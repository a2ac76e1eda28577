"""The ``qoder-async`` command line (also ``python -m qoder_async``).

Commands: ``deployments list|get|create|update|pause|unpause|archive|run``,
``runs list|get``, ``bulk-archive``, ``fake-server``, ``demo`` and ``completion``;
``--help`` on any of them explains its options. Errors are printed as one line, never
as a traceback, and the token (read from ``QODER_PAT`` only) is never printed.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

from qoder_async.cli._parser import build_parser
from qoder_async.cli._runtime import (
    EXIT_CANCELLED,
    EXIT_OK,
    configure_logging,
    describe_error,
    scrub,
)

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failed, 2 usage, 130 Ctrl-C).

    A reader that goes away (``qoder-async ... | head -1``) ends the command quietly
    with 0, as ``git`` and ``gh`` do: the output that was wanted was delivered.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        code: int = args.handler(args)
        # Flushed here, not at exit, so a closed pipe surfaces as BrokenPipeError below.
        sys.stdout.flush()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        # The reader went away (`… | head`): stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        line, code = describe_error(exc)
        if args.verbose:
            sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
        print(f"error: {scrub(line)}", file=sys.stderr)
        return code
    return code
