"""Shared test configuration."""

from __future__ import annotations

import inspect
import os
import types
from typing import Any

import aioresponses.core
from aiohttp import ClientResponse


def _patch_aioresponses_for_aiohttp_314() -> None:
    """aiohttp 3.14 made ``ClientResponse(stream_writer=...)`` required; aioresponses
    0.7.x does not pass it yet (pnuckowski/aioresponses#289). Give the mocked responses
    a writer that reports nothing written, so the adapter tests run on the aiohttp
    users actually get (3.14 is a security release)."""
    if "stream_writer" not in inspect.signature(ClientResponse.__init__).parameters:
        return

    class CompatClientResponse(ClientResponse):
        def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
            super().__init__(method, url, **kwargs)

    aioresponses.core.ClientResponse = CompatClientResponse  # type: ignore[attr-defined]


_patch_aioresponses_for_aiohttp_314()

# The project's own tests decode strictly: a response that does not fit its model must
# fail the test, not log a warning. Tests of the lenient default say so explicitly.
os.environ.setdefault("QODER_STRICT_RESPONSES", "1")
