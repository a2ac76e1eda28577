"""Deployment runs: per deployment (``client.deployments.runs``) and global
(``client.deployment_runs``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from qoder_async import _validation
from qoder_async._literals import (
    RUN_STATUSES,
    TRIGGER_TYPES,
    RunStatusFilter,
    TriggerTypeFilter,
)
from qoder_async.config import Timeouts
from qoder_async.models import DeploymentRun, Page, RunStatus, TriggerType
from qoder_async.pagination import AsyncPaginator
from qoder_async.resources._base import CallOptions, Prepared, ResourceContext, sends
from qoder_async.resources._params import ListParams, paginate
from qoder_async.resources._raw import DeploymentRunsRawAPI, RunsRawAPI

__all__ = ["RUN_STATUSES", "TRIGGER_TYPES", "DeploymentRunsAPI", "RunsAPI"]


class RunsAPI:
    """Runs of one deployment: ``GET /deployments/{id}/runs[/{run_id}]``."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: ResourceContext) -> None:
        self._ctx = ctx

    def list(
        self,
        deployment_id: str,
        *,
        status: RunStatusFilter | RunStatus | None = None,
        triggered_after: datetime | str | None = None,
        triggered_before: datetime | str | None = None,
        limit: int | None = None,
        after_id: str | None = None,
        before_id: str | None = None,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> AsyncPaginator[DeploymentRun]:
        """Runs of a deployment, newest first by ``triggered_at``.

        ``limit`` is the page size (items per request, 1-1000), not a total: iteration
        still walks every page. For the first ``n`` items use ``.take(n)`` or
        ``.to_list(max_items=n)``.
        """
        dep = _validation.deployment_id(deployment_id)
        query = (
            ListParams(limit=limit, after_id=after_id, before_id=before_id, kind="run")
            .choice("status", status, RUN_STATUSES)
            .timestamp("triggered_after", triggered_after)
            .timestamp("triggered_before", triggered_before)
        )
        url = self._ctx.url("deployments", dep, "runs")
        options = CallOptions.of(timeout, extra_headers, extra_query)
        return paginate(self._ctx, url, query, self._ctx.structurer(Page[DeploymentRun]), options)

    def _get(
        self,
        deployment_id: str,
        run_id: str,
        *,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> Prepared[DeploymentRun]:
        """One run of one deployment (404 if it belongs to another deployment)."""
        url = self._ctx.url(
            "deployments",
            _validation.deployment_id(deployment_id),
            "runs",
            _validation.run_id(run_id),
        )
        options = CallOptions.of(timeout, extra_headers, extra_query)
        return self._ctx.prepare("GET", url, DeploymentRun, options=options)

    get = sends(_get)

    @property
    def with_raw_response(self) -> RunsRawAPI:
        """``get`` returning a ``RawResponse`` (status, headers, request id, ``parse()``)
        instead of the model; ``list`` has no raw form."""
        return RunsRawAPI(self)


class DeploymentRunsAPI:
    """Runs across every deployment: ``GET /deployment_runs[/{run_id}]``."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: ResourceContext) -> None:
        self._ctx = ctx

    def list(
        self,
        *,
        deployment_id: str | None = None,
        status: RunStatusFilter | RunStatus | None = None,
        trigger_type: TriggerTypeFilter | TriggerType | None = None,
        has_error: bool | None = None,
        limit: int | None = None,
        after_id: str | None = None,
        before_id: str | None = None,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> AsyncPaginator[DeploymentRun]:
        """Every run of the caller, newest first, with the documented filters.

        ``limit`` is the page size (items per request, 1-1000), not a total: iteration
        still walks every page. For the first ``n`` items use ``.take(n)`` or
        ``.to_list(max_items=n)``.
        """
        query = (
            ListParams(limit=limit, after_id=after_id, before_id=before_id, kind="run")
            .ident("deployment_id", deployment_id, "deployment")
            .choice("status", status, RUN_STATUSES)
            .choice("trigger_type", trigger_type, TRIGGER_TYPES)
            .flag("has_error", has_error)
        )
        url = self._ctx.url("deployment_runs")
        options = CallOptions.of(timeout, extra_headers, extra_query)
        return paginate(self._ctx, url, query, self._ctx.structurer(Page[DeploymentRun]), options)

    def _get(
        self,
        run_id: str,
        *,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> Prepared[DeploymentRun]:
        """One run by id."""
        url = self._ctx.url("deployment_runs", _validation.run_id(run_id))
        options = CallOptions.of(timeout, extra_headers, extra_query)
        return self._ctx.prepare("GET", url, DeploymentRun, options=options)

    get = sends(_get)

    @property
    def with_raw_response(self) -> DeploymentRunsRawAPI:
        """``get`` returning a ``RawResponse`` (status, headers, request id, ``parse()``)
        instead of the model; ``list`` has no raw form."""
        return DeploymentRunsRawAPI(self)
