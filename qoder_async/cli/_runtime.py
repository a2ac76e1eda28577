"""What every command shares: the client, the event loop, exit codes and error lines."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from qoder_async.client import TOKEN_ENV, QoderClient
from qoder_async.config import check_base_url
from qoder_async.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    InvalidArgumentError,
)

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "configure_logging",
    "describe_error",
    "make_client",
    "run_async",
    "scrub",
    "with_client",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130
"""128 + SIGINT, what shells report for a command stopped with Ctrl-C."""

T = TypeVar("T")


class UsageError(Exception):
    """A bad command line or configuration; printed as one line, exit code 2."""


def scrub(text: str) -> str:
    """Replace the token, should it ever appear in ``text``, before anything is printed.

    The SDK never puts the token in messages; this is a second line of defence because
    a CLI prints whatever it is given (server messages, OS errors, tracebacks).
    """
    token = os.environ.get(TOKEN_ENV, "").strip()
    if len(token) >= 4 and token in text:
        text = text.replace(token, "***")
    return text


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(verbose: bool) -> None:
    """``--verbose``: DEBUG records of the ``qoder_async`` logger on stderr."""
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ScrubFilter())
    logger = logging.getLogger("qoder_async")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)


def make_client(args: argparse.Namespace) -> QoderClient:
    """A client from ``QODER_PAT`` and ``--base-url`` / ``QODER_BASE_URL``.

    The token is read from the environment only: a flag would be visible to every user
    of the machine through ``ps``.
    """
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise UsageError(
            f"no API token: set the {TOKEN_ENV} environment variable "
            "(the token is never accepted as a command-line flag)"
        )
    _refuse_plain_http(args)
    return QoderClient(token, base_url=args.base_url, allow_insecure_http=args.allow_insecure_http)


def _refuse_plain_http(args: argparse.Namespace) -> None:
    """Say what to do about an ``http://`` base URL in the CLI's terms (a flag), not the
    SDK's (a keyword argument); any other problem with the URL is the SDK's to report."""
    if args.allow_insecure_http:
        return
    url = args.base_url or os.environ.get("QODER_BASE_URL", "").strip()
    if not url:
        return
    try:
        check_base_url(url)
    except InvalidArgumentError:
        check_base_url(url, allow_insecure=True)  # raises for any other problem
        source = "--base-url" if args.base_url else "QODER_BASE_URL"
        raise UsageError(
            f"{source} {url!r} is plain http to another machine: the token would cross "
            "the network unencrypted; use https, or add --allow-insecure-http if you "
            "mean it"
        ) from None


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh event loop (Ctrl-C arrives as ``KeyboardInterrupt``)."""
    return asyncio.run(coro)


def with_client(args: argparse.Namespace, work: Callable[[QoderClient], Awaitable[int]]) -> int:
    """Open a client, run ``work`` with it, and close it, on a fresh event loop."""
    client = make_client(args)

    async def go() -> int:
        async with client:
            return await work(client)

    return run_async(go())


def _attempts(exc: BaseException) -> str:
    # Errors that ran out of retries say how many attempts they made.
    attempts = getattr(exc, "attempts", None)
    if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts > 1:
        return f" (gave up after {attempts} attempts)"
    return ""


def describe_error(exc: BaseException) -> tuple[str, int]:
    """The one line printed for an error, and the exit code it maps to.

    API errors read like the SDK's own (``404 not_found_error: ... [request_id: X]``),
    plus how many attempts were made when retries ran out, and, for a 401, where the
    token comes from.
    """
    if isinstance(exc, UsageError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, APIStatusError):
        kind = exc.error_type or "error"
        line = f"{exc.status} {kind}: {exc.message}"
        if exc.param:
            line += f" (param: {exc.param})"
        line += _attempts(exc)
        if exc.request_id:
            line += f" [request_id: {exc.request_id}]"
        if isinstance(exc, AuthenticationError):
            line += f"; check the token in the {TOKEN_ENV} environment variable"
        return line, EXIT_FAILED
    if isinstance(exc, APIConnectionError):
        return f"cannot reach the API: {exc}{_attempts(exc)}", EXIT_FAILED
    # Bad arguments the SDK refused before sending (malformed id, bad base URL, a field
    # of the wrong type in --from-json, ...): InvalidArgumentError and QoderConfigError
    # are both ValueErrors.
    if isinstance(exc, ValueError):
        return str(exc), EXIT_USAGE
    # Anything else (ResponseDecodeError, an OS error writing --results, a bug) is still
    # one line; --verbose adds the traceback.
    return f"{type(exc).__name__}: {exc}", EXIT_FAILED
