"""Models to wire-shaped dicts and JSON, and back: ``to_dict``, ``to_json``, ``from_dict``.

The same generated functions the client decodes responses with, so
``from_dict(type(x), to_dict(x)) == x`` for any model ``x`` the client returned.
"""

from __future__ import annotations

from typing import Any, TypeVar

from qoder_async import _serde

__all__ = ["from_dict", "to_dict", "to_json"]

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """A model (or a list or dict holding models) as JSON-ready data in the wire shape.

    Field names are the API's; ``extra`` is merged back into its object; ``None`` is left
    out where the field's default is ``None``; timestamps become RFC 3339 strings with
    ``Z``; enum members their value; ``UnknownResource`` / ``UnknownEvent`` their raw
    object. Example: ``json.dumps(to_dict(deployment))`` in a web handler.
    """
    return _serde.unstructure(obj)


def to_json(obj: Any) -> str:
    """``to_dict(obj)`` as compact JSON text (non-ASCII characters kept as they are)."""
    return _serde.to_json(obj)


def from_dict(model: type[T], data: Any, *, strict: bool = True) -> T:
    """Decode wire-shaped data (e.g. from ``to_dict``) into ``model``.

    ``model`` is any model class, or ``Page[Deployment]`` / ``Page[DeploymentRun]``.
    ``strict=False`` decodes as a default client does: a nested part that does not fit
    is kept raw (see the README) instead of raising.

    Raises:
        ValueError: ``data`` does not fit ``model`` (strict), or not even its ``id``
            does; the message names the path, e.g. ``deployment.agent.version``.
    """
    return _serde.structure(data, model, strict=strict)
