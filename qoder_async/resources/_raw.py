"""``with_raw_response``: the same calls, answering with the response as well as the model.

Each raw method is made from the builder its normal method is made from (see
``_base.sends``), so arguments, validation and per-call options are the same; only
what comes back differs. Lists stay paginators: they have no raw form.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from multidict import CIMultiDict, CIMultiDictProxy

from qoder_async.errors import request_id_of, safe_headers
from qoder_async.resources._base import Prepared, decode, present_as

if TYPE_CHECKING:
    from qoder_async._messages import Response
    from qoder_async.resources.deployments import DeploymentsAPI
    from qoder_async.resources.runs import DeploymentRunsAPI, RunsAPI

__all__ = ["DeploymentRunsRawAPI", "DeploymentsRawAPI", "RawResponse", "RunsRawAPI"]

T = TypeVar("T")
# Covariant: a RawResponse is read-only, so a RawResponse[Deployment] is a RawResponse[object].
T_co = TypeVar("T_co", covariant=True)
P = ParamSpec("P")

_UNPARSED: Any = object()


class RawResponse(Generic[T_co]):
    """A successful call's HTTP response, with ``parse()`` to the model the call returns.

    ``await client.deployments.with_raw_response.get(id)`` sends exactly what
    ``client.deployments.get(id)`` sends (same arguments, validation, retries and
    per-call options) and returns this instead of the ``Deployment``.

    Attributes:
        status: The HTTP status (a 2xx; other statuses raise as for the normal call).
        headers: The response headers, read-only, looked up case-insensitively, without
            the credential-bearing ones (cookies).
        request_id: From ``x-request-id`` / ``request-id`` (``None`` if the server sent
            neither): quote it when reporting a problem.
        attempts: Which attempt of the call produced this response (1 unless retried).
        elapsed: Seconds that attempt took, from sending to having read the body.
    """

    __slots__ = ("_parsed", "_response", "_structure", "attempts", "elapsed", "headers", "status")

    def __init__(self, response: Response, structure: Callable[[Any], T_co]) -> None:
        self._response = response
        self._structure = structure
        self._parsed: T_co = _UNPARSED
        self.status: int = response.status
        self.headers: Mapping[str, str] = CIMultiDictProxy(
            CIMultiDict(safe_headers(response.headers))
        )
        self.attempts: int = response.attempts
        self.elapsed: float = response.elapsed

    @property
    def request_id(self) -> str | None:
        """The server's id for this request (``x-request-id`` / ``request-id``)."""
        return request_id_of(self.headers)

    @property
    def content(self) -> bytes:
        """The raw body bytes."""
        return self._response.content

    def parse(self) -> T_co:
        """The body as the call's model, decoded once (later calls return the same object).

        Decoded in the client's mode, as the normal call does: a body that drifted from
        the model is kept leniently, or raises ``ResponseDecodeError`` with
        ``strict_responses=True``.
        """
        if self._parsed is _UNPARSED:
            self._parsed = decode(self._response, self._structure)
        return self._parsed

    def __repr__(self) -> str:
        return f"<RawResponse status={self.status} request_id={self.request_id!r}>"


def raw(
    build: Callable[P, Prepared[T]],
) -> Callable[P, Coroutine[Any, Any, RawResponse[T]]]:
    """The raw form of a bound builder: send what it prepares, return the ``RawResponse``."""

    async def method(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        prepared = build(*args, **kwargs)
        return RawResponse(await prepared.handler(prepared.request), prepared.structure)

    present_as(method, build, "RawResponse[{}]")
    return method


class DeploymentsRawAPI:
    """``client.deployments.with_raw_response``: the single-deployment calls, each
    returning ``RawResponse[Deployment]`` (``run``: ``RawResponse[DeploymentRun]``).

    Same arguments as on ``client.deployments``. ``list`` has no raw form: it returns
    a paginator, which fetches pages as you iterate.
    """

    __slots__ = ("archive", "create", "get", "pause", "run", "unpause", "update")

    def __init__(self, api: DeploymentsAPI) -> None:
        self.create = raw(api._create)
        self.get = raw(api._get)
        self.update = raw(api._update)
        self.pause = raw(api._pause)
        self.unpause = raw(api._unpause)
        self.archive = raw(api._archive)
        self.run = raw(api._run)


class RunsRawAPI:
    """``client.deployments.runs.with_raw_response``: ``get`` returning
    ``RawResponse[DeploymentRun]`` (``list`` stays a paginator)."""

    __slots__ = ("get",)

    def __init__(self, api: RunsAPI) -> None:
        self.get = raw(api._get)


class DeploymentRunsRawAPI:
    """``client.deployment_runs.with_raw_response``: ``get`` returning
    ``RawResponse[DeploymentRun]`` (``list`` stays a paginator)."""

    __slots__ = ("get",)

    def __init__(self, api: DeploymentRunsAPI) -> None:
        self.get = raw(api._get)
