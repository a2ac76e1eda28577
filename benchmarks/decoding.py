"""Decoding a 1,000-item list page: JSON bytes to typed deployments, µs per item.

Compared, on the same bytes (made by the fake server's state):

* ours: ``_json.loads`` + ``_serde.structure(obj, Page[Deployment], strict=False)``,
  exactly what ``client.deployments.list()`` does with each page by default: the
  converter's structure functions, written out for ``Deployment`` and the models it
  holds, cattrs-generated for the rest (a page that fits never leaves them; lenient and
  strict mode only differ on a body that does not fit);
* the same with cattrs' generated functions for every model, which is why the
  written-out ones exist (``qoder_async/_written_hooks.py``);
* a pydantic v2 model mirroring ``Deployment`` (``validate_json``), as httpx +
  pydantic clients decode;
* qca-sdk's own path (``json.loads`` + its ``parse_response`` into its pydantic models);
* msgspec ``Struct`` mirrors, the lower bound for typed decoding in Python;
* ``json.loads`` alone, the parse every decoder pays before structuring.

Timings keep the garbage collector on, as it is in a real application.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks._bodies import make_bodies
from benchmarks._results import NA, Section, Settings, Table, Target, fmt, median, ratio
from qoder_async import _json, _serde
from qoder_async.models import Deployment, Page

__all__ = ["run"]

PAGE_ITEMS = 1000
Decode = Callable[[bytes], Any]


def _ours(body: bytes) -> Any:
    return _serde.structure(_json.loads(body), Page[Deployment], strict=False)


def _generated_only() -> Decode:
    # The same converter without ``_written_hooks``: what cattrs' generated functions
    # alone would cost, kept in the table because it is why those hooks exist.
    page = Page[Deployment]
    hook = _serde.make_structure_converter(written_out=False).get_structure_hook(page)

    def decode(body: bytes) -> Any:
        return hook(_json.loads(body), page)

    return decode


def _orjson() -> Decode | None:
    if importlib.util.find_spec("orjson") is None:
        return None
    import orjson

    return orjson.loads


def _pydantic() -> Decode | None:
    if importlib.util.find_spec("pydantic") is None:
        return None
    from benchmarks._mirror_pydantic import page_adapter

    def decode(body: bytes) -> Any:
        return page_adapter.validate_json(body)

    return decode


def _msgspec() -> Decode | None:
    if importlib.util.find_spec("msgspec") is None:
        return None
    from benchmarks._mirror_msgspec import page_decoder

    def decode(body: bytes) -> Any:
        return page_decoder.decode(body)

    return decode


def _qca() -> Decode | None:
    if importlib.util.find_spec("qca") is None:
        return None
    # The vendor's private helpers: what its list() does with each page body.
    from qca.common._models import parse_response  # type: ignore[import-not-found, unused-ignore]
    from qca.common.pagination import AsyncPage  # type: ignore[import-not-found, unused-ignore]
    from qca.managed.types import (  # type: ignore[import-not-found, unused-ignore]
        Deployment as QcaDeployment,
    )

    class _Response:
        headers: dict[str, str] = {}  # noqa: RUF012 - read-only stand-in

    page_type = AsyncPage[QcaDeployment]  # type: ignore[valid-type, unused-ignore]

    def decode(body: bytes) -> Any:
        return parse_response(page_type, json.loads(body), _Response())

    return decode


def per_item_us(
    decoders: dict[str, Decode], body: bytes, items: int, *, rounds: int, budget: float
) -> dict[str, float]:
    """Median µs per item of each decoder over ``rounds`` timed decodes.

    The decoders take turns within each round, so a burst of load on the machine falls
    on all of them instead of skewing one. A decoder that alone would overrun
    ``budget`` seconds (the vendor's is ~100x slower) stops taking part early, after at
    least three timed decodes.
    """
    timings: dict[str, list[float]] = {name: [] for name in decoders}
    for decode in decoders.values():
        decode(body)  # warm up: first-call caches, lazy schema builds
    for _ in range(rounds):
        for name, decode in decoders.items():
            spent = sum(timings[name])
            if len(timings[name]) >= 3 and spent > budget / len(decoders):
                continue
            started = time.perf_counter()
            decode(body)
            timings[name].append(time.perf_counter() - started)
    return {name: median(values) / items * 1e6 for name, values in timings.items()}


def run(settings: Settings) -> Section:
    """Time every available decoder on one page body."""
    items = settings.scale(PAGE_ITEMS, 50)
    body = make_bodies(items).page
    parsed = json.loads(body)
    decoders: dict[str, tuple[Decode | None, str]] = {
        "json.loads only (no models)": (json.loads, "the stdlib parse alone, for scale"),
        "orjson.loads only (no models)": (_orjson(), "the parse ours uses when installed"),
        "ours (_json.loads + structure_page)": (_ours, "what list() does per page"),
        "ours, cattrs-generated functions only": (
            _generated_only(),
            "as ours, without the written-out hooks",
        ),
        "ours, structuring only": (
            lambda _body: _serde.structure(parsed, Page[Deployment], strict=False),
            "structure_page on an already-parsed page",
        ),
        "pydantic v2 mirror (validate_json)": (_pydantic(), "httpx + pydantic style"),
        "qca-sdk parse_response": (_qca(), "the vendor client's own decode"),
        "msgspec Struct (lower bound)": (_msgspec(), "C decoder, drops unknown keys"),
    }
    rounds = settings.scale(max(15, 5 * settings.repeats), 2)
    available = {name: decode for name, (decode, _) in decoders.items() if decode is not None}
    gc.collect()
    timed = per_item_us(available, body, items, rounds=rounds, budget=settings.scale(20, 4))
    results: dict[str, float | None] = {name: timed.get(name) for name in decoders}
    ours = results["ours (_json.loads + structure_page)"]
    floor = results["msgspec Struct (lower bound)"]
    pydantic = results["pydantic v2 mirror (validate_json)"]
    table = Table(
        title=f"Decoding a {items:,}-item page ({len(body) / items:,.0f} bytes per item)",
        columns=["decoder", "µs per item", "× msgspec", "note"],
        text_columns=frozenset({0, 3}),
    )
    for name, (_, note) in decoders.items():
        value = results[name]
        table.rows.append([name, fmt(value, 2), fmt(ratio(value, floor), 2, missing="n/a"), note])
    section = Section(name="decoding", title="Decoding list pages into models")
    section.tables.append(table)
    section.targets.extend(
        [
            Target.at_most("decoding ours/msgspec", ratio(ours, floor), 5.0),
            Target.at_most("decoding ours/pydantic", ratio(ours, pydantic), 1.5),
        ]
    )
    section.data = {"items": items, "bytes_per_item": len(body) / items, "us_per_item": results}
    generated = ratio(results["ours, cattrs-generated functions only"], floor)
    if generated is not None:
        verdict = "over" if generated > 5.0 else "within"
        section.notes.append(
            f"Without the written-out hooks (qoder_async/_written_hooks.py) ours reads "
            f"{generated:.2f}x msgspec in this run, {verdict} the 5x target (BENCHMARKS.md "
            "says how often that misses)."
        )
    if None in results.values():
        section.notes.append(f"Columns marked '{NA}' need: pip install -e '.[bench]'.")
    section.notes.append(
        f"_json uses {'orjson' if _json.loads is not json.loads else 'the stdlib json'} here."
    )
    return section
