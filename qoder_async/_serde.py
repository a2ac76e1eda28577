"""The package's one cattrs ``Converter``: wire JSON <-> models.

Decoding goes through hand-written hooks (see ``_decode`` for why) registered on the
converter; encoding request bodies uses cattrs' generated unstructure functions with a
few wire rules layered on top:

* ``None`` in a field whose default is ``None`` is omitted, not sent as ``null``;
* ``extra`` mappings are merged back into the object they came from;
* string ``content`` of a message event is sent as one text block, the only form the
  events API accepts;
* datetimes become RFC 3339 strings with ``Z``; enum members become their value.

The converter is private to this module; nothing else in the package imports cattrs. It
is built, hooks and all, on the first ``unstructure`` call: only ``create`` and
``update`` need it, and generating its hooks was the largest single cost of importing
the package.
"""

from __future__ import annotations

import enum
import functools
import threading
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from qoder_async import _decode, _decode_deployment
from qoder_async._decode import DecodeFailure
from qoder_async.models import (
    AgentRef,
    CasConfig,
    CasSettings,
    CasStats,
    ContentBlock,
    DefineOutcome,
    Deployment,
    DeploymentRun,
    FileResource,
    GitHubRepositoryResource,
    MemoryStoreResource,
    Page,
    PausedReason,
    RunError,
    RunExtras,
    Schedule,
    ScheduleSpec,
    SystemMessage,
    TextBlock,
    TriggerContext,
    UnknownEvent,
    UnknownResource,
    UserMessage,
)

__all__ = [
    "DecodeFailure",
    "format_timestamp",
    "structure_deployment",
    "structure_page",
    "structure_run",
    "unstructure",
]

T = TypeVar("T")

# Set by _build_converter; the hooks below only ever run inside it, after it is set.
_converter: cattrs.Converter
_converter_ready = False
_converter_lock = threading.Lock()

# Decoders of the models that come in pages, by class.
_ITEM_DECODERS: dict[type[Any], Callable[[Any], Any]] = {
    Deployment: _decode_deployment.deployment,
    DeploymentRun: _decode.run,
}


def _rooted(decode: Callable[[Any], T], obj: Any, root: str) -> T:
    try:
        return decode(obj)
    except DecodeFailure as exc:
        exc.path = root + exc.path
        raise


def structure_deployment(obj: Any) -> Deployment:
    """Decode a parsed JSON deployment.

    Raises:
        DecodeFailure: ``obj`` is not a deployment; the message names the field.
    """
    return _rooted(_decode_deployment.deployment, obj, "deployment")


def structure_run(obj: Any) -> DeploymentRun:
    """Decode a parsed JSON deployment run.

    Raises:
        DecodeFailure: ``obj`` is not a deployment run; the message names the field.
    """
    return _rooted(_decode.run, obj, "deployment_run")


def structure_page(obj: Any, item: type[T]) -> Page[T]:
    """Decode a parsed JSON list envelope whose items are ``item`` models.

    Raises:
        TypeError: ``item`` is not a model that comes in pages.
        DecodeFailure: ``obj`` is not such a page; the message names the field.
    """
    decode_item = _ITEM_DECODERS.get(item)
    if decode_item is None:
        raise TypeError(f"no page decoder for {item!r}")
    return _rooted(functools.partial(_decode.page, decode_item=decode_item), obj, "page")


def _structure_hook(structure: Callable[[Any], T]) -> Callable[[Any, Any], T]:
    def hook(obj: Any, _cls: Any) -> T:
        return structure(obj)

    return hook


def _is_page(tp: Any) -> bool:
    return typing.get_origin(tp) is Page


def _structure_any_page(obj: Any, tp: Any) -> Page[Any]:
    (item,) = typing.get_args(tp)
    return structure_page(obj, item)


def _register_structure_hooks() -> None:
    _converter.register_structure_hook(Deployment, _structure_hook(structure_deployment))
    _converter.register_structure_hook(DeploymentRun, _structure_hook(structure_run))
    _converter.register_structure_hook_func(_is_page, _structure_any_page)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``; a naive ``datetime`` is taken to be UTC already."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def _content_out(content: str | tuple[ContentBlock, ...]) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [_converter.unstructure(block) for block in content]


def _with_extra(base: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    def unstructure_with_extra(obj: Any) -> dict[str, Any]:
        out = base(obj)
        for key, value in obj.extra.items():
            # A known field always wins over a same-named leftover.
            if key not in out:
                out[key] = _converter.unstructure(value)
        return out

    return unstructure_with_extra


def _raw_out(obj: UnknownEvent | UnknownResource) -> dict[str, Any]:
    out: dict[str, Any] = _converter.unstructure(dict(obj.raw))
    out["type"] = obj.type
    return out


def _page_out(obj: Page[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "data": [_converter.unstructure(item) for item in obj.data],
        "first_id": obj.first_id,
        "last_id": obj.last_id,
        "has_more": obj.has_more,
    }
    if obj.next_page is not None:
        out["next_page"] = obj.next_page
    for key, value in obj.extra.items():
        out.setdefault(key, _converter.unstructure(value))
    return out


_GENERATED: tuple[type[Any], ...] = (
    AgentRef,
    TextBlock,
    UserMessage,
    DefineOutcome,
    SystemMessage,
    FileResource,
    GitHubRepositoryResource,
    MemoryStoreResource,
    ScheduleSpec,
    Schedule,
    PausedReason,
    CasSettings,
    CasStats,
    CasConfig,
    Deployment,
    RunError,
    TriggerContext,
    RunExtras,
    DeploymentRun,
)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _register_unstructure_hooks() -> None:
    _converter.register_unstructure_hook(datetime, format_timestamp)
    # StrEnum and IntEnum too: their str/int base would otherwise win the dispatch.
    for enum_base in (enum.Enum, enum.StrEnum, enum.IntEnum):
        _converter.register_unstructure_hook(enum_base, _plain)
    for cls in (UnknownEvent, UnknownResource):
        _converter.register_unstructure_hook(cls, _raw_out)
    _converter.register_unstructure_hook_func(lambda tp: tp is Page or _is_page(tp), _page_out)
    for cls in _GENERATED:
        overrides: dict[str, Any] = {}
        for field in attrs.fields(cls):
            if field.name == "extra":
                overrides[field.name] = override(omit=True)
            elif field.default is None:
                overrides[field.name] = override(omit_if_default=True)
            elif field.name == "content":
                overrides[field.name] = override(unstruct_hook=_content_out)
        base = make_dict_unstructure_fn(cls, _converter, **overrides)
        hook = _with_extra(base) if "extra" in attrs.fields_dict(cls) else base
        _converter.register_unstructure_hook(cls, hook)


def _build_converter() -> None:
    global _converter, _converter_ready
    with _converter_lock:  # two threads' first calls must not see a half-built one
        if _converter_ready:
            return
        _converter = cattrs.Converter(detailed_validation=False)
        _register_structure_hooks()
        _register_unstructure_hooks()
        _converter_ready = True


def unstructure(obj: Any) -> Any:
    """Turn models (and dicts or lists holding them) into JSON-ready values.

    Meant for request bodies: ``None`` in optional fields is left out, a message's
    string ``content`` becomes ``[{"type": "text", "text": …}]``, datetimes become
    RFC 3339 strings with ``Z``.
    """
    if not _converter_ready:
        _build_converter()
    return _converter.unstructure(obj)
