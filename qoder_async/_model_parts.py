"""Building blocks shared by the deployment and run models.

Kept apart from ``models.py`` only to keep each module small; ``qoder_async.models`` is
the import path users should rely on. Like the rest of the model layer this imports
nothing from the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

import attrs

__all__ = [
    "AgentRef",
    "ContentBlock",
    "DefineOutcome",
    "FileResource",
    "GitHubRepositoryResource",
    "InitialEvent",
    "MemoryStoreResource",
    "Resource",
    "SystemMessage",
    "TextBlock",
    "UnknownEvent",
    "UnknownResource",
    "UserMessage",
    "parse_timestamp",
]

_fromisoformat = datetime.fromisoformat


def parse_timestamp(value: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC ``datetime``.

    Accepts 0-9 (or more) fractional digits, truncating to microseconds, and ``Z`` or a
    numeric offset. A timestamp without an offset is refused: the API always sends UTC
    with ``Z``, so a naive value means something changed and guessing would hide it.

    Raises:
        ValueError: ``value`` is not such a timestamp.
    """
    try:
        parsed = _fromisoformat(value)
    except ValueError:
        # RFC 3339 allows a lower-case "t" and "z"; fromisoformat does not.
        parsed = _fromisoformat(value.replace("t", "T").replace("z", "Z"))
    tz = parsed.tzinfo
    if tz is UTC:
        return parsed
    if tz is None:
        raise ValueError("timestamp has no UTC offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range") from None


@attrs.frozen(kw_only=True)
class AgentRef:
    """The agent a deployment or run uses, pinned to a concrete version.

    Attributes:
        id: ``agent_…`` id.
        type: Always ``"agent"`` today.
        version: The agent version the deployment is pinned to.
        extra: Response fields this SDK does not know yet.
    """

    id: str
    type: str = "agent"
    version: int
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class TextBlock:
    """A text content block: ``{"type": "text", "text": …}``.

    Attributes:
        text: The text.
        extra: Block fields this SDK does not know yet.
    """

    type: Literal["text"] = "text"
    text: str
    extra: Mapping[str, Any] = attrs.field(factory=dict)


#: A content block: a ``TextBlock``, or any other block kept as the raw mapping.
ContentBlock: TypeAlias = TextBlock | Mapping[str, Any]


@attrs.frozen(kw_only=True)
class UserMessage:
    """The ``user.message`` initial event.

    Attributes:
        content: A plain string (the form the API echoes back) or content blocks. A
            string is sent as a single text block, the form the events API requires.
        extra: Event fields this SDK does not know yet.
    """

    type: Literal["user.message"] = "user.message"
    content: str | tuple[ContentBlock, ...]
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class DefineOutcome:
    """The ``user.define_outcome`` initial event.

    Attributes:
        description: What the agent should achieve.
        rubric: How to judge it, e.g. ``{"type": "text", "content": …}`` or
            ``{"type": "file", "file_id": …}``; kept as sent.
        max_iterations: Upper bound on attempts, when set.
        extra: Event fields this SDK does not know yet.
    """

    type: Literal["user.define_outcome"] = "user.define_outcome"
    description: str
    rubric: Mapping[str, Any] | None = None
    max_iterations: int | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class SystemMessage:
    """The ``system.message`` initial event.

    Attributes:
        content: A plain string or content blocks; a string is sent as one text block.
        extra: Event fields this SDK does not know yet.
    """

    type: Literal["system.message"] = "system.message"
    content: str | tuple[ContentBlock, ...]
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class UnknownEvent:
    """An initial event of a type this SDK does not know, kept whole.

    Attributes:
        type: The event's ``type``.
        raw: The event exactly as received.
    """

    type: str
    raw: Mapping[str, Any] = attrs.field(factory=dict)


#: One item of ``Deployment.initial_events``.
InitialEvent: TypeAlias = UserMessage | DefineOutcome | SystemMessage | UnknownEvent


@attrs.frozen(kw_only=True)
class FileResource:
    """An uploaded file mounted into the session.

    Attributes:
        file_id: ``file_…`` id.
        mount_path: Where it is mounted; the API's default is
            ``/mnt/session/uploads/<file_id>``.
        extra: Resource fields this SDK does not know yet.
    """

    type: Literal["file"] = "file"
    file_id: str
    mount_path: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class GitHubRepositoryResource:
    """A GitHub repository cloned into the session.

    Attributes:
        url: Repository URL.
        authorization_token: Required when writing; the API never returns it, and it is
            kept out of ``repr``.
        mount_path: Where it is cloned, when set.
        checkout: Branch or commit to check out, as the API expects it.
        extra: Resource fields this SDK does not know yet.
    """

    type: Literal["github_repository"] = "github_repository"
    url: str
    authorization_token: str | None = attrs.field(default=None, repr=False)
    mount_path: str | None = None
    checkout: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class MemoryStoreResource:
    """A memory store attached to the session.

    Attributes:
        memory_store_id: ``memstore_…`` id.
        access: ``"read_only"`` or ``"read_write"``, when set.
        instructions: How the agent should use it, when set.
        extra: Resource fields this SDK does not know yet.
    """

    type: Literal["memory_store"] = "memory_store"
    memory_store_id: str
    access: str | None = None
    instructions: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class UnknownResource:
    """A resource of a type this SDK does not know, kept whole.

    Attributes:
        type: The resource's ``type``.
        raw: The resource exactly as received.
    """

    type: str
    raw: Mapping[str, Any] = attrs.field(factory=dict)


#: One item of ``Deployment.resources``.
Resource: TypeAlias = (
    FileResource | GitHubRepositoryResource | MemoryStoreResource | UnknownResource
)
