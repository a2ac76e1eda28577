"""The slow path of decoding: name where a body does not fit, or keep what does.

``_serde`` structures a body with cattrs' generated hooks in one go. Only when that
fails does it come here, with the same converter's per-type structuring as ``part``.
The walk below goes through the body field by field (``part`` on each value first, so
every part that fits is structured by the generated hooks, not by this module) and:

* strict: raises ``DecodeFailure`` at the innermost part that does not fit, with its
  path, e.g. ``deployment.resources[0].file_id: missing required field``;
* lenient: keeps the raw part and goes on. A resource or initial event that does not
  fit its ``type`` (or has an unknown one) becomes ``UnknownResource`` /
  ``UnknownEvent`` holding it whole; an unknown enum value stays a ``str``; any other
  field that does not fit holds its default (``None`` when it has none) and its raw
  value (unless null) is kept in the model's ``extra`` under its own key. Each such
  repair is logged once per model and field path at WARNING on the ``qoder_async``
  logger.

The anchor of a top-level model (a deployment's or run's ``id``, a page's ``data``) must
fit in both modes: without it there is nothing to hand back.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["DecodeFailure", "Walk", "describe"]

logger = logging.getLogger("qoder_async")

Part = Callable[[Any, Any], Any]

# (model, path) pairs already warned about; bounded so a stream of ever new paths
# (keys are normalised, but a server could still invent them) cannot grow it forever.
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()
_WARNED_MAX = 4096
_INDEX = re.compile(r"\[\d+\]")


class DecodeFailure(ValueError):
    """A response body does not have the shape of the expected model.

    Attributes:
        reason: What is wrong, e.g. ``missing required field``.
        path: Where, e.g. ``deployment.initial_events[0].content``.
    """

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (DecodeFailure, (self.reason, self.path))


def describe(value: Any) -> str:
    """Short JSON-flavoured description of a value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _warn_once(model: str, failure: DecodeFailure) -> None:
    key = (model, _INDEX.sub("[]", failure.path))
    with _warned_lock:
        if key in _warned or len(_warned) >= _WARNED_MAX:
            return
        _warned.add(key)
    logger.warning(
        "%s does not fit the %s model (%s); kept the raw value. "
        "Pass strict_responses=True to make this an error.",
        failure.path,
        model,
        failure.reason,
    )


def _enum_of(tp: Any) -> type[enum.Enum] | None:
    """The enum of an ``SomeEnum | str`` annotation, else ``None``."""
    args = typing.get_args(tp)
    if len(args) == 2 and str in args:
        other = args[0] if args[1] is str else args[1]
        if isinstance(other, type) and issubclass(other, enum.Enum):
            return other
    return None


def _optional_of(tp: Any) -> Any:
    """``X`` of an ``X | None`` annotation, else ``None``."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = typing.get_args(tp)
        if len(args) == 2 and type(None) in args:
            return args[0] if args[1] is type(None) else args[1]
    return None


@attrs.frozen(kw_only=True)
class Tagged:
    """A union told apart by its ``type`` key, with the class that holds anything else."""

    by_tag: Mapping[str, type[Any]]
    unknown: type[Any]


class Walk:
    """One slow-path decode of one body; see the module docstring."""

    def __init__(
        self,
        part: Part,
        *,
        strict: bool,
        model: str,
        field_types: Callable[[Any], Mapping[str, Any]],
        tagged: Mapping[Any, Tagged],
        anchors: Mapping[Any, str],
        content: Any,
        block: Any,
    ) -> None:
        self.part = part
        self.strict = strict
        self.model_name = model
        self.field_types = field_types
        self.tagged = tagged
        self.anchors = anchors
        self.content = content
        self.block = block

    def value(self, raw: Any, tp: Any, path: str) -> Any:
        """``raw`` as ``tp``, by the generated hooks where it fits."""
        try:
            return self.part(raw, tp)
        except RecursionError:
            raise
        except Exception as exc:
            first = exc
        return self._descend(raw, tp, path, first)

    def _descend(self, raw: Any, tp: Any, path: str, first: Exception) -> Any:
        inner = _optional_of(tp)
        if inner is not None:
            if raw is None:
                return None
            try:
                return self.value(raw, inner, path)
            except DecodeFailure as exc:
                # "expected a string, got 5" -> "expected a string or null, got 5"
                if exc.path == path and exc.reason.startswith("expected "):
                    exc.reason = exc.reason.replace(", got ", " or null, got ", 1)
                raise
        if attrs.has(typing.get_origin(tp) or tp):
            return self.model(raw, tp, path)
        if tp in self.tagged:
            return self._tagged_item(raw, self.tagged[tp], path)
        if tp == self.content:
            return self._content(raw, path)
        if typing.get_origin(tp) is tuple and type(raw) is list:
            item = typing.get_args(tp)[0]
            return tuple(self.value(x, item, f"{path}[{i}]") for i, x in enumerate(raw))
        known = _enum_of(tp)
        if known is not None and type(raw) is not str:
            raise DecodeFailure(f"expected a string, got {describe(raw)}", path)
        if known is not None:
            failure = DecodeFailure(f"unknown value {describe(raw)}", path)
            if self.strict:
                raise failure
            _warn_once(self.model_name, failure)
            return raw
        reason = first.reason if isinstance(first, DecodeFailure) else None
        raise DecodeFailure(reason or f"expected {_name(tp)}, got {describe(raw)}", path)

    def model(self, raw: Any, tp: Any, path: str) -> Any:
        """``raw`` as the attrs class ``tp``, field by field."""
        if type(raw) is not dict:
            raise DecodeFailure(f"expected an object, got {describe(raw)}", path)
        cls = typing.get_origin(tp) or tp
        anchor = self.anchors.get(cls)
        types_ = self.field_types(tp)
        kwargs: dict[str, Any] = {}
        extra = {key: value for key, value in raw.items() if key not in types_}
        for field in attrs.fields(cls):
            key = field.name
            if key not in types_:
                continue
            if key in raw:
                try:
                    kwargs[key] = self.value(raw[key], types_[key], f"{path}.{key}")
                    continue
                except DecodeFailure as exc:
                    failure = exc
            elif field.default is not attrs.NOTHING:
                continue
            elif _optional_of(types_[key]) is not None:
                kwargs[key] = None  # a nullable key left out reads as null
                continue
            else:
                failure = DecodeFailure("missing required field", f"{path}.{key}")
            if self.strict or key == anchor:
                raise failure
            _warn_once(self.model_name, failure)
            if raw.get(key) is not None:  # a null says no more than the fallback does
                extra[key] = raw[key]
            kwargs[key] = _fallback(field)
        return cls(**kwargs, extra=extra)

    def _tagged_item(self, raw: Any, union: Tagged, path: str) -> Any:
        if type(raw) is not dict:
            raise DecodeFailure(f"expected an object, got {describe(raw)}", path)
        if "type" not in raw:
            raise DecodeFailure("missing required field", f"{path}.type")
        tag = raw["type"]
        if type(tag) is not str:
            raise DecodeFailure(f"expected a string, got {describe(tag)}", f"{path}.type")
        cls = union.by_tag.get(tag)
        if cls is None:
            failure = DecodeFailure(f"unknown type {describe(tag)}", f"{path}.type")
        else:
            try:
                # Strict, whatever the mode: in lenient mode this only finds the path.
                return self._strict().model(raw, cls, path)
            except DecodeFailure as exc:
                failure = exc
        if self.strict:
            raise failure
        _warn_once(self.model_name, failure)
        return union.unknown(type=tag, raw=raw)

    def _content(self, raw: Any, path: str) -> Any:
        if type(raw) is not list:
            raise DecodeFailure(
                f"expected a string or an array of blocks, got {describe(raw)}", path
            )
        blocks = []
        for index, item in enumerate(raw):
            where = f"{path}[{index}]"
            try:
                blocks.append(self.part(item, self.block))
                continue
            except RecursionError:
                raise
            except Exception:
                pass
            if type(item) is not dict:
                raise DecodeFailure(f"expected an object, got {describe(item)}", where)
            # Only a text block can fail; this raises naming the part of it that does.
            blocks.append(self.model(item, self._text_block(), where))
        return tuple(blocks)

    def _text_block(self) -> Any:
        args = typing.get_args(self.block)
        return next(arg for arg in args if attrs.has(arg))

    def _strict(self) -> Walk:
        if self.strict:
            return self
        return Walk(
            self.part,
            strict=True,
            model=self.model_name,
            field_types=self.field_types,
            tagged=self.tagged,
            anchors={},
            content=self.content,
            block=self.block,
        )


def _fallback(field: attrs.Attribute[Any]) -> Any:
    default: Any = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return default.factory()
    return None if default is attrs.NOTHING else default


def _name(tp: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    if tp in names:
        return names[tp]
    origin = typing.get_origin(tp)
    if origin is tuple:
        return "an array"
    if origin is typing.Literal:
        return " or ".join(repr(arg) for arg in typing.get_args(tp))
    if tp is Any or origin in (Mapping, dict) or tp in (Mapping, dict):
        return "an object"
    return getattr(tp, "__name__", str(tp))
