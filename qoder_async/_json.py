"""JSON encoding and decoding, with orjson when it is installed (the ``speedups`` extra).

Both paths produce the same Python values; orjson only makes them faster.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["dumps", "loads"]


def _std_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


loads: Callable[[bytes | str], Any]
dumps: Callable[[Any], bytes]
try:
    import orjson

    loads = orjson.loads
    dumps = orjson.dumps
except ImportError:  # pragma: no cover - exercised when the extra is absent
    loads = json.loads
    dumps = _std_dumps
