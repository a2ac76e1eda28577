"""``client.deployments``: create, read, change and list deployments."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qoder_async import _validation
from qoder_async._literals import DEPLOYMENT_STATUSES, DeploymentStatusFilter
from qoder_async.config import RetryPolicy, Timeouts
from qoder_async.middleware import Middleware
from qoder_async.models import (
    AgentRef,
    Deployment,
    DeploymentRun,
    DeploymentStatus,
    Page,
    ScheduleSpec,
)
from qoder_async.pagination import AsyncPaginator
from qoder_async.resources._base import (
    CallOptions,
    Prepared,
    ResourceContext,
    idempotency_headers,
    sends,
)
from qoder_async.resources._params import ListParams, paginate
from qoder_async.resources._raw import DeploymentsRawAPI
from qoder_async.resources.runs import RunsAPI

if TYPE_CHECKING:
    from qoder_async.bulk import BulkJob, BulkOperation, ItemOutcome

__all__ = ["DEPLOYMENT_STATUSES", "DeploymentsAPI"]


class _NotGiven:
    """Marks an update argument the caller left out (``None`` can be a real value)."""

    _instance: _NotGiven | None = None

    def __new__(cls) -> _NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Any = _NotGiven()


class DeploymentsAPI:
    """Deployments: ``/deployments`` and ``/deployments/{id}[/pause|unpause|archive|run]``.

    Every method validates its arguments before anything is sent and raises
    ``ValueError`` / ``TypeError`` naming the bad parameter. Writes carry an
    ``Idempotency-Key`` (minted once per call unless you pass ``idempotency_key``), so
    the SDK can retry them after a lost response without applying them twice.

    Every method also takes, for that one call: ``timeout`` (``Timeouts``, or seconds
    for one attempt's total), ``extra_headers`` and ``extra_query`` (str to str), and on
    writes ``extra_body`` (merged into the JSON body); they are merged last.
    """

    __slots__ = ("_ctx", "runs")

    def __init__(self, ctx: ResourceContext) -> None:
        self._ctx = ctx
        self.runs = RunsAPI(ctx)
        """Runs of one deployment (``list``, ``get``)."""

    def _create(
        self,
        *,
        name: str,
        agent: str | AgentRef | Mapping[str, Any],
        environment_id: str,
        initial_events: Sequence[Any],
        schedule: ScheduleSpec | Mapping[str, Any] | None = None,
        description: str | None = None,
        resources: Sequence[Any] | None = None,
        vault_ids: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        environment_variables: str | None = None,
        budget: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Prepared[Deployment]:
        """Create an active deployment (manual-only when ``schedule`` is omitted)."""
        options = CallOptions.of(timeout, extra_headers, extra_query, extra_body)
        body = _validation.build_create_body(
            name=name,
            agent=agent,
            environment_id=environment_id,
            initial_events=initial_events,
            schedule=schedule,
            description=description,
            resources=resources,
            vault_ids=vault_ids,
            metadata=metadata,
            environment_variables=environment_variables,
            budget=budget,
        )
        headers = idempotency_headers(idempotency_key)
        url = self._ctx.url("deployments")
        return self._ctx.prepare(
            "POST", url, Deployment, body=body, headers=headers, options=options
        )

    create = sends(_create)

    def _get(
        self,
        deployment_id: str,
        *,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> Prepared[Deployment]:
        """One deployment by id (archived ones included)."""
        url = self._ctx.url("deployments", _validation.deployment_id(deployment_id))
        options = CallOptions.of(timeout, extra_headers, extra_query)
        return self._ctx.prepare("GET", url, Deployment, options=options)

    get = sends(_get)

    def _update(
        self,
        deployment_id: str,
        *,
        name: str = NOT_GIVEN,
        description: str | None = NOT_GIVEN,
        agent: str | AgentRef | Mapping[str, Any] = NOT_GIVEN,
        environment_id: str = NOT_GIVEN,
        schedule: ScheduleSpec | Mapping[str, Any] | None = NOT_GIVEN,
        initial_events: Sequence[Any] = NOT_GIVEN,
        resources: Sequence[Any] = NOT_GIVEN,
        vault_ids: Sequence[str] = NOT_GIVEN,
        metadata: Mapping[str, Any] = NOT_GIVEN,
        environment_variables: str | None = NOT_GIVEN,
        budget: Mapping[str, Any] | None = NOT_GIVEN,
        idempotency_key: str | None = None,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Prepared[Deployment]:
        """Change only the fields you pass.

        Merge-patch semantics: a ``None`` value inside ``metadata`` deletes that key;
        arrays replace the stored ones; a schedule is always sent whole, and
        ``schedule=None`` clears it (the deployment becomes manual-only).
        """
        dep = _validation.deployment_id(deployment_id)
        options = CallOptions.of(timeout, extra_headers, extra_query, extra_body)
        given = {
            key: value
            for key, value in (
                ("name", name),
                ("description", description),
                ("agent", agent),
                ("environment_id", environment_id),
                ("schedule", schedule),
                ("initial_events", initial_events),
                ("resources", resources),
                ("vault_ids", vault_ids),
                ("metadata", metadata),
                ("environment_variables", environment_variables),
                ("budget", budget),
            )
            if value is not NOT_GIVEN
        }
        # ``schedule=None`` turns a cron deployment into a manual-only one: sent as null.
        clear_schedule = "schedule" in given and given["schedule"] is None
        if clear_schedule:
            del given["schedule"]
        body = _validation.build_update_body(**given) if given or not clear_schedule else {}
        if clear_schedule:
            body["schedule"] = None
        headers = idempotency_headers(idempotency_key)
        url = self._ctx.url("deployments", dep)
        return self._ctx.prepare(
            "POST", url, Deployment, body=body, headers=headers, options=options
        )

    update = sends(_update)

    def _pause(
        self,
        deployment_id: str,
        *,
        idempotency_key: str | None = None,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Prepared[Deployment]:
        """Stop scheduled firing (409 ``ConflictError`` when already paused)."""
        options = CallOptions.of(timeout, extra_headers, extra_query, extra_body)
        return self._action(deployment_id, "pause", idempotency_key, options)

    pause = sends(_pause)

    def _unpause(
        self,
        deployment_id: str,
        *,
        idempotency_key: str | None = None,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Prepared[Deployment]:
        """Resume a paused deployment (409 ``ConflictError`` when it is not paused)."""
        options = CallOptions.of(timeout, extra_headers, extra_query, extra_body)
        return self._action(deployment_id, "unpause", idempotency_key, options)

    unpause = sends(_unpause)

    def _archive(
        self,
        deployment_id: str,
        *,
        idempotency_key: str | None = None,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Prepared[Deployment]:
        """Archive for good: no unarchive exists (409 ``ConflictError`` when already archived).

        The returned deployment has ``archived_at`` set (``is_archived`` is true); its
        ``status`` keeps its previous value, as the API does.
        """
        options = CallOptions.of(timeout, extra_headers, extra_query, extra_body)
        return self._action(deployment_id, "archive", idempotency_key, options)

    archive = sends(_archive)

    def _run(
        self,
        deployment_id: str,
        *,
        idempotency_key: str | None = None,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Prepared[DeploymentRun]:
        """Trigger a manual run now (409 ``ConflictError`` unless the deployment is active)."""
        url = self._ctx.url("deployments", _validation.deployment_id(deployment_id), "run")
        headers = idempotency_headers(idempotency_key)
        options = CallOptions.of(timeout, extra_headers, extra_query, extra_body)
        return self._ctx.prepare(
            "POST", url, DeploymentRun, body={}, headers=headers, options=options
        )

    run = sends(_run)

    def _action(
        self, deployment_id: str, action: str, key: str | None, options: CallOptions | None
    ) -> Prepared[Deployment]:
        url = self._ctx.url("deployments", _validation.deployment_id(deployment_id), action)
        headers = idempotency_headers(key)
        # An empty JSON object, not an empty body: the endpoint pages mark
        # Content-Type required on these POSTs, and ``{}`` is what the docs send.
        return self._ctx.prepare("POST", url, Deployment, body={}, headers=headers, options=options)

    def list(
        self,
        *,
        status: DeploymentStatusFilter | DeploymentStatus | None = None,
        include_archived: bool | None = None,
        agent_id: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        limit: int | None = None,
        after_id: str | None = None,
        before_id: str | None = None,
        timeout: Timeouts | float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
    ) -> AsyncPaginator[Deployment]:
        """Deployments, newest first; archived ones only with ``include_archived=True``.

        ``created_after`` / ``created_before`` map to the ``created_at[gte]`` /
        ``created_at[lte]`` filters. Iterate with ``async for``; nothing is fetched until
        then.

        ``limit`` is the page size (items per request, 1-1000), not a total: iteration
        still walks every page. For the first ``n`` items use ``.take(n)`` or
        ``.to_list(max_items=n)``.
        """
        query = (
            ListParams(limit=limit, after_id=after_id, before_id=before_id, kind="deployment")
            .choice("status", status, DEPLOYMENT_STATUSES)
            .flag("include_archived", include_archived)
            .ident("agent_id", agent_id, "agent")
            .timestamp("created_at[gte]", created_after, param="created_after")
            .timestamp("created_at[lte]", created_before, param="created_before")
        )
        url = self._ctx.url("deployments")
        options = CallOptions.of(timeout, extra_headers, extra_query)
        return paginate(self._ctx, url, query, self._ctx.structurer(Page[Deployment]), options)

    @property
    def with_raw_response(self) -> DeploymentsRawAPI:
        """The single-deployment calls returning a ``RawResponse`` (status, headers,
        request id, ``parse()``) instead of the model; ``list`` has no raw form."""
        return DeploymentsRawAPI(self)

    def with_options(
        self,
        *,
        retry: RetryPolicy | int | None = None,
        timeout: Timeouts | float | None = None,
        per_attempt_middleware: Sequence[Middleware] = (),
    ) -> DeploymentsAPI:
        """These deployments through a client derived with other options.

        Same connections, token and middleware; ``retry`` and ``timeout`` replace the
        client's, ``per_attempt_middleware`` runs on every attempt after the client's
        own (see ``QoderClient.with_options``).
        """
        if self._ctx.derive is None:
            raise TypeError("with_options needs a DeploymentsAPI built by a QoderClient")
        ctx = self._ctx.derive(
            retry=retry, timeout=timeout, per_attempt_middleware=per_attempt_middleware
        )
        return DeploymentsAPI(ctx)

    def bulk_archive(
        self,
        ids: Iterable[str | Deployment] | AsyncIterable[str | Deployment],
        *,
        concurrency: int = 32,
        rate_limit: float | None = None,
        retry: RetryPolicy | None = None,
        on_outcome: Callable[[ItemOutcome], object] | None = None,
    ) -> BulkJob:
        """Archive many deployments: ``report = await client.deployments.bulk_archive(ids)``.

        Args:
            ids: Ids or deployments, as a list or an async iterable (e.g. ``list()``),
                read lazily; duplicates are archived once.
            concurrency: Most calls in flight (fixed; throttling is the client's job).
            rate_limit: Most calls this job starts per second, a fixed pace (``None``:
                no pace of its own).
            retry: Retry policy for each call (default: ``bulk.BULK_RETRY``).
            on_outcome: Called with each id's ``ItemOutcome`` as it finishes.

        Returns:
            A ``BulkJob``: await it for the ``BulkReport``, or ``async for`` its outcomes.
            Each id ends ``archived``, ``already_archived``, ``not_found``, ``failed``,
            or, when the job stops early on a 401/403 or an unreachable host (awaiting
            it then raises that error), ``not_attempted``.
        """
        from qoder_async.bulk import ARCHIVE

        return self._bulk(ARCHIVE, ids, concurrency, rate_limit, retry, on_outcome)

    def bulk_pause(
        self,
        ids: Iterable[str | Deployment] | AsyncIterable[str | Deployment],
        *,
        concurrency: int = 32,
        rate_limit: float | None = None,
        retry: RetryPolicy | None = None,
        on_outcome: Callable[[ItemOutcome], object] | None = None,
    ) -> BulkJob:
        """Pause many deployments; outcomes ``paused`` / ``already_paused`` / ... .

        Same arguments and guarantees as ``bulk_archive``.
        """
        from qoder_async.bulk import PAUSE

        return self._bulk(PAUSE, ids, concurrency, rate_limit, retry, on_outcome)

    def bulk_unpause(
        self,
        ids: Iterable[str | Deployment] | AsyncIterable[str | Deployment],
        *,
        concurrency: int = 32,
        rate_limit: float | None = None,
        retry: RetryPolicy | None = None,
        on_outcome: Callable[[ItemOutcome], object] | None = None,
    ) -> BulkJob:
        """Unpause many deployments; outcomes ``unpaused`` / ``already_active`` / ... .

        Same arguments and guarantees as ``bulk_archive``.
        """
        from qoder_async.bulk import UNPAUSE

        return self._bulk(UNPAUSE, ids, concurrency, rate_limit, retry, on_outcome)

    def _bulk(
        self,
        operation: BulkOperation,
        ids: Iterable[str | Deployment] | AsyncIterable[str | Deployment],
        concurrency: int,
        rate_limit: float | None,
        retry: RetryPolicy | None,
        on_outcome: Callable[[ItemOutcome], object] | None,
    ) -> BulkJob:
        # Imported here, not at module level: most programs never run a bulk job, and
        # the bulk package is a visible share of `import qoder_async`.
        from qoder_async.bulk import BulkJob

        return BulkJob(
            self,
            operation,
            ids,
            concurrency=concurrency,
            rate_limit=rate_limit,
            retry=retry,
            on_outcome=on_outcome,
        )
