"""Async client for the Qoder Cloud Agents Deployments API.

Start with ``QoderClient``::

    async with QoderClient() as client:          # token from QODER_PAT
        async for deployment in client.deployments.list(status="paused"):
            await client.deployments.archive(deployment.id)
"""

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
from qoder_async.serialization import from_dict, to_dict, to_json
from qoder_async.transport import AiohttpTransport, MockTransport, Transport


def __getattr__(name: str) -> Any:
    # ``__version__`` is looked up on first access: importlib.metadata and the scan for
    # the installed distribution cost several milliseconds, and few programs ask.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("qoder-async")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
