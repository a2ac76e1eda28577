"""The public surface: every exported name exists and says what it is for."""

from __future__ import annotations

import importlib
import inspect

import pytest

import qoder_async
from qoder_async import AsyncPaginator, QoderClient
from qoder_async.bulk import BulkJob, BulkReport
from qoder_async.resources import DeploymentRunsAPI, DeploymentsAPI, RunsAPI
from qoder_async.testing import FakeQoderServer, FaultPlan

PUBLIC_MODULES = [
    "qoder_async",
    "qoder_async.bulk",
    "qoder_async.testing",
    "qoder_async.observability",
    "qoder_async.errors",
    "qoder_async.config",
    "qoder_async.models",
    "qoder_async.transport",
    "qoder_async.middleware",
    "qoder_async.retry",
    "qoder_async.pagination",
]


def exported() -> list[tuple[str, str, object]]:
    items = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            items.append((module_name, name, getattr(module, name)))
    return items


@pytest.mark.parametrize(("module", "name", "value"), exported())
def test_exported_classes_and_functions_have_docstrings(
    module: str, name: str, value: object
) -> None:
    if inspect.isclass(value) or inspect.isfunction(value):
        assert inspect.getdoc(value), f"{module}.{name} has no docstring"


@pytest.mark.parametrize(
    "cls",
    [
        QoderClient,
        DeploymentsAPI,
        RunsAPI,
        DeploymentRunsAPI,
        AsyncPaginator,
        BulkJob,
        BulkReport,
        FakeQoderServer,
        FaultPlan,
    ],
)
def test_public_methods_have_docstrings(cls: type) -> None:
    missing = [
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_")
        and (inspect.isfunction(member) or isinstance(member, property))
        and not inspect.getdoc(member)
    ]
    assert missing == [], f"{cls.__name__}: {missing}"


def test_architecture_names_are_importable_from_the_package() -> None:
    for name in (
        "QoderClient",
        "QoderError",
        "APIConnectionError",
        "APITimeoutError",
        "APIStatusError",
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "ConflictError",
        "RateLimitError",
        "InternalServerError",
        "FeatureNotAvailableError",
        "ResponseDecodeError",
        "Deployment",
        "DeploymentRun",
        "Schedule",
        "AgentRef",
        "Page",
        "ClientConfig",
        "RetryPolicy",
        "Timeouts",
        "Transport",
        "AiohttpTransport",
        "MockTransport",
        "AsyncPaginator",
        "__version__",
    ):
        assert name in qoder_async.__all__
        assert hasattr(qoder_async, name)
