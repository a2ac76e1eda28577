"""Async client for the Qoder Cloud Agents Deployments API.

Start with ``QoderClient``::

    async with QoderClient() as client:          # token from QODER_PAT
        async for deployment in client.deployments.list(status="paused"):
            await client.deployments.archive(deployment.id)

Every name below is imported on first access (PEP 562). Python imports this package
before any of its submodules, and the pytest plugin in ``qoder_async.testing`` is loaded
into every pytest run of every project that installs the SDK, so importing the package
alone must not import the client or aiohttp. ``from qoder_async import QoderClient``
costs what it always did.
"""

from __future__ import annotations

import importlib

# Not ``typing.TYPE_CHECKING``: importing ``typing`` alone would be most of what
# ``import qoder_async`` costs. Type checkers treat any constant of this name alike.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from qoder_async._messages import Request, Response
    from qoder_async.client import QoderClient
    from qoder_async.config import ClientConfig, Limits, RetryPolicy, SecretToken, Timeouts
    from qoder_async.errors import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        FeatureNotAvailableError,
        InternalServerError,
        InvalidArgumentError,
        InvalidArgumentTypeError,
        NotFoundError,
        PermissionDeniedError,
        QoderConfigError,
        QoderError,
        RateLimitError,
        ResponseDecodeError,
        UnexpectedRedirectError,
        UnprocessableEntityError,
    )
    from qoder_async.middleware import Handler, Middleware, TokenProvider
    from qoder_async.models import (
        AgentRef,
        CasConfig,
        DefineOutcome,
        Deployment,
        DeploymentRun,
        DeploymentStatus,
        FileResource,
        GitHubRepositoryResource,
        MemoryStoreResource,
        Page,
        PausedReason,
        RunError,
        RunExtras,
        RunStatus,
        Schedule,
        ScheduleSpec,
        SystemMessage,
        TextBlock,
        TriggerContext,
        TriggerType,
        UnknownEvent,
        UnknownResource,
        UserMessage,
    )
    from qoder_async.pagination import AsyncPaginator, PaginationError
    from qoder_async.resources._raw import RawResponse
    from qoder_async.serialization import from_dict, to_dict, to_json
    from qoder_async.transport import AiohttpTransport, MockTransport, Transport

    __version__: str

#: Submodule -> the public names it defines.
_EXPORTS = {
    "_messages": ("Request", "Response"),
    "resources._raw": ("RawResponse",),
    "client": ("QoderClient",),
    "config": ("ClientConfig", "Limits", "RetryPolicy", "SecretToken", "Timeouts"),
    "errors": (
        "APIConnectionError",
        "APIStatusError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "ConflictError",
        "FeatureNotAvailableError",
        "InternalServerError",
        "InvalidArgumentError",
        "InvalidArgumentTypeError",
        "NotFoundError",
        "PermissionDeniedError",
        "QoderConfigError",
        "QoderError",
        "RateLimitError",
        "ResponseDecodeError",
        "UnexpectedRedirectError",
        "UnprocessableEntityError",
    ),
    "middleware": ("Handler", "Middleware", "TokenProvider"),
    "models": (
        "AgentRef",
        "CasConfig",
        "DefineOutcome",
        "Deployment",
        "DeploymentRun",
        "DeploymentStatus",
        "FileResource",
        "GitHubRepositoryResource",
        "MemoryStoreResource",
        "Page",
        "PausedReason",
        "RunError",
        "RunExtras",
        "RunStatus",
        "Schedule",
        "ScheduleSpec",
        "SystemMessage",
        "TextBlock",
        "TriggerContext",
        "TriggerType",
        "UnknownEvent",
        "UnknownResource",
        "UserMessage",
    ),
    "pagination": ("AsyncPaginator", "PaginationError"),
    "serialization": ("from_dict", "to_dict", "to_json"),
    "transport": ("AiohttpTransport", "MockTransport", "Transport"),
}
#: Public name -> the submodule that defines it.
_HOMES = {name: module for module, names in _EXPORTS.items() for name in names}
#: Submodules an eager package import used to load, so ``qoder_async.errors`` (without
#: importing it first) kept working; they still resolve, on first access.
_SUBMODULES = frozenset(_EXPORTS) | {"resources", "retry", "ratelimit", "observability"}


def _version() -> str:
    # importlib.metadata and the scan for the installed distribution cost several
    # milliseconds, and few programs ask.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qoder-async")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is not None:
        value: Any = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    elif name == "__version__":
        value = _version()
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES, "__version__"})


__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentRef",
    "AiohttpTransport",
    "AsyncPaginator",
    "AuthenticationError",
    "BadRequestError",
    "CasConfig",
    "ClientConfig",
    "ConflictError",
    "DefineOutcome",
    "Deployment",
    "DeploymentRun",
    "DeploymentStatus",
    "FeatureNotAvailableError",
    "FileResource",
    "GitHubRepositoryResource",
    "Handler",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "Limits",
    "MemoryStoreResource",
    "Middleware",
    "MockTransport",
    "NotFoundError",
    "Page",
    "PaginationError",
    "PausedReason",
    "PermissionDeniedError",
    "QoderClient",
    "QoderConfigError",
    "QoderError",
    "RateLimitError",
    "RawResponse",
    "Request",
    "Response",
    "ResponseDecodeError",
    "RetryPolicy",
    "RunError",
    "RunExtras",
    "RunStatus",
    "Schedule",
    "ScheduleSpec",
    "SecretToken",
    "SystemMessage",
    "TextBlock",
    "Timeouts",
    "TokenProvider",
    "Transport",
    "TriggerContext",
    "TriggerType",
    "UnexpectedRedirectError",
    "UnknownEvent",
    "UnknownResource",
    "UnprocessableEntityError",
    "UserMessage",
    "__version__",
    "from_dict",
    "to_dict",
    "to_json",
]
