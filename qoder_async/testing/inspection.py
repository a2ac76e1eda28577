"""What a test asks the fake server: its state as typed views, its counters, its faults.

:class:`ServerInspection` is the part of :class:`~qoder_async.testing.FakeQoderServer`
that tests call directly (no HTTP): read deployments and runs, count the requests and
the changes applied per endpoint and per deployment, list the faults injected, seed
state, reset the counters, and wait for the server to reach a condition. The server's
request handling reports into it through the ``_record_*`` methods.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping

from qoder_async.testing._common import ApiError
from qoder_async.testing.state import DEFAULT_SEED_SCHEDULE, FakeState
from qoder_async.testing.views import DeploymentView, InjectedFault, RunView

__all__ = ["ServerInspection"]

_Key = tuple[str, str | None]  # (endpoint name, deployment id named in the path)
_Waiter = tuple[Callable[[], bool], "asyncio.Future[None]"]


def _total(
    per_endpoint: Counter[str],
    per_key: Counter[_Key],
    endpoint: str | None,
    deployment_id: str | None,
) -> int:
    # Direct look-ups where possible: tests call these in wait_until predicates, which
    # run on every request, while the per-id counter may hold thousands of ids.
    if deployment_id is None:
        return per_endpoint[endpoint] if endpoint is not None else per_endpoint.total()
    if endpoint is not None:
        return per_key[endpoint, deployment_id]
    return sum(count for (_, target), count in per_key.items() if target == deployment_id)


class ServerInspection:
    """Reading, counting, seeding and waiting on a fake server's state from a test.

    Attributes:
        state: The in-memory store (:class:`FakeState`); prefer the typed views below.
        request_counts: Requests per endpoint name, every request included (rejected,
            faulted and replayed ones too). ``request_count()`` also filters by id.
        applied: State changes actually applied per endpoint name (no replays, no
            errors, no faults that reject). ``applied_count()`` also filters by id.
        archive_applications: Deployment id -> archives applied to it (more than 1
            would mean a duplicate archive got through).
        faults_injected: Injected faults per kind. ``injected_faults()`` lists each one.
    """

    state: FakeState

    def _init_inspection(self) -> None:
        self.request_counts: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self.archive_applications: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self._requests_by_id: Counter[_Key] = Counter()
        self._applied_by_id: Counter[_Key] = Counter()
        self._fault_log: list[InjectedFault] = []
        self._waiters: list[_Waiter] = []

    # -- recording (called by the request handlers) -------------------------------------

    def _record_request(self, endpoint: str, deployment_id: str | None) -> None:
        self.request_counts[endpoint] += 1
        self._requests_by_id[endpoint, deployment_id] += 1
        self._wake_waiters()

    def _record_applied(self, endpoint: str, deployment_id: str | None) -> None:
        self.applied[endpoint] += 1
        self._applied_by_id[endpoint, deployment_id] += 1
        if endpoint == "deployments.archive" and deployment_id is not None:
            self.archive_applications[deployment_id] += 1
        self._wake_waiters()

    def _record_fault(self, endpoint: str, kind: str, deployment_id: str | None) -> None:
        self.faults_injected[kind] += 1
        self._fault_log.append(InjectedFault(endpoint, kind, deployment_id))
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        if not self._waiters:
            return
        for predicate, future in list(self._waiters):
            if future.done():
                continue
            try:
                if predicate():
                    future.set_result(None)
            except Exception as exc:  # the test's predicate failed: report it there
                future.set_exception(exc)

    # -- reading state ------------------------------------------------------------------

    def deployment(self, deployment_id: str) -> DeploymentView:
        """A snapshot of one deployment, archived ones included.

        Raises:
            KeyError: no deployment has that id.
        """
        return DeploymentView.from_wire(self.state.deployments[deployment_id])

    def deployments(self, *, include_archived: bool = True) -> list[DeploymentView]:
        """Snapshots of every deployment, oldest first."""
        return [
            DeploymentView.from_wire(wire)
            for wire in self.state.deployments.values()
            if include_archived or wire["archived_at"] is None
        ]

    def deployment_run(self, run_id: str) -> RunView:
        """A snapshot of one run.

        Raises:
            KeyError: no run has that id.
        """
        self.state.runs[run_id]  # KeyError before anything else happens
        return RunView.from_wire(self.state.get_run(run_id))

    def deployment_runs(self, deployment_id: str | None = None) -> list[RunView]:
        """Snapshots of the runs (of one deployment, or of all), oldest first."""
        return [
            RunView.from_wire(wire)
            for wire in self.state.runs.values()
            if deployment_id is None or wire["deployment_id"] == deployment_id
        ]

    # -- counters -----------------------------------------------------------------------

    def request_count(
        self, endpoint: str | None = None, *, deployment_id: str | None = None
    ) -> int:
        """Requests received, for one endpoint name and/or one deployment (None: all).

        Every request counts, including rejected (401, 404), faulted and replayed ones.
        A request counts for ``deployment_id`` when its path names that deployment.
        """
        return _total(self.request_counts, self._requests_by_id, endpoint, deployment_id)

    def applied_count(
        self, endpoint: str | None = None, *, deployment_id: str | None = None
    ) -> int:
        """Changes applied, for one endpoint name and/or one deployment (None: all).

        Only writes that changed state count: not replays of an idempotency key, not
        errors, not requests a fault rejected. A create counts for the id it created.
        """
        return _total(self.applied, self._applied_by_id, endpoint, deployment_id)

    def injected_faults(self, endpoint: str | None = None) -> list[InjectedFault]:
        """The faults injected so far (into one endpoint's requests, or all), in order."""
        return [f for f in self._fault_log if endpoint is None or f.endpoint == endpoint]

    def reset_counters(self) -> None:
        """Zero every request, applied and fault counter and forget the injected faults.

        State (deployments, runs) and the fault plan are kept.
        """
        for counter in (
            self.request_counts,
            self.applied,
            self.archive_applications,
            self.faults_injected,
            self._requests_by_id,
            self._applied_by_id,
        ):
            counter.clear()
        self._fault_log.clear()

    # -- seeding ------------------------------------------------------------------------

    def seed_deployments(
        self,
        n: int,
        *,
        agent_id: str | None = None,
        status: str = "active",
        archived: bool = False,
        schedule: Mapping[str, str] | None = DEFAULT_SEED_SCHEDULE,
        name_prefix: str = "seeded-deployment",
    ) -> list[str]:
        """Create ``n`` deployments directly in state (no HTTP, not counted).

        They are created one second apart, the last one newest, and returned in that
        order. ``status`` is ``"active"`` or ``"paused"``; ``archived=True`` archives
        them too; ``schedule=None`` leaves them unscheduled.
        """
        return self.state.seed(
            n,
            agent_id=agent_id,
            status=status,
            archived=archived,
            schedule=schedule,
            name_prefix=name_prefix,
        )

    def seed_run(self, deployment_id: str, *, status: str = "running") -> RunView:
        """Trigger a manual run of a deployment directly in state (no HTTP, not counted).

        ``status`` ``"completed"`` or ``"failed"`` finishes it at once; ``"running"``
        leaves it running (``state.complete_run`` finishes it later).

        Raises:
            KeyError: no deployment has that id.
            ValueError: the deployment cannot run (paused or archived), the run was
                skipped (the deployment is at ``max_concurrent``), or ``status`` is
                not one of the three.
        """
        if status not in ("running", "completed", "failed"):
            raise ValueError("status must be 'running', 'completed' or 'failed'")
        self.state.deployments[deployment_id]  # KeyError for an unknown id
        try:
            run = self.state.run(deployment_id)
        except ApiError as exc:
            raise ValueError(exc.message) from exc
        if run["status"] == "skipped":
            raise ValueError(f"the run of {deployment_id} was skipped (max_concurrent reached)")
        if status != "running":
            run = self.state.complete_run(run["id"], status=status)
        return RunView.from_wire(run)

    # -- waiting ------------------------------------------------------------------------

    # A built-in bound is the point here: a test that forgets one must fail, not hang.
    async def wait_until(
        self,
        predicate: Callable[[], bool],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``predicate()`` is true, checked now and after every request the
        server records (received, applied, faulted); no polling, no fixed sleep.

        Use it to synchronise with the server, e.g. "the archive request has arrived"::

            await server.wait_until(lambda: server.request_count("deployments.archive") > 0)

        Call it from the event loop the server runs in.

        Raises:
            TimeoutError: the condition did not hold within ``timeout`` seconds.
            Exception: whatever ``predicate`` raised.
        """
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter: _Waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            message = f"the fake server's condition did not hold within {timeout} s"
            raise TimeoutError(message) from None
        finally:
            self._waiters.remove(waiter)
