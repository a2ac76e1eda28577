"""The actions a bulk job can apply, each through the public ``DeploymentsAPI``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs

from qoder_async.bulk._report import Outcome
from qoder_async.models import Deployment

if TYPE_CHECKING:
    from qoder_async.resources.deployments import DeploymentsAPI

__all__ = ["ARCHIVE", "PAUSE", "UNPAUSE", "BulkOperation"]


# Functions, not lambdas: the type checker can defer a function body until the
# methods' types (inferred in another module of the import cycle) are known.
def _archive(api: DeploymentsAPI, deployment_id: str) -> Awaitable[Deployment]:
    return api.archive(deployment_id)


def _pause(api: DeploymentsAPI, deployment_id: str) -> Awaitable[Deployment]:
    return api.pause(deployment_id)


def _unpause(api: DeploymentsAPI, deployment_id: str) -> Awaitable[Deployment]:
    return api.unpause(deployment_id)


@attrs.frozen(kw_only=True)
class BulkOperation:
    """One action applied in bulk: how to call it and how to read its results.

    Attributes:
        action: Name used in reports.
        call: Applies the action to one id through a ``DeploymentsAPI``.
        reached: Whether a deployment is in the target state (read from the model the
            call or a ``get`` returned).
        done: Outcome when this job applied the change.
        already: Outcome when the deployment was already in the target state.
    """

    action: str
    call: Callable[[DeploymentsAPI, str], Awaitable[Deployment]]
    reached: Callable[[Deployment], bool]
    done: Outcome
    already: Outcome


ARCHIVE = BulkOperation(
    action="archive",
    call=_archive,
    reached=lambda deployment: deployment.is_archived,
    done=Outcome.ARCHIVED,
    already=Outcome.ALREADY_ARCHIVED,
)
PAUSE = BulkOperation(
    action="pause",
    call=_pause,
    reached=lambda deployment: deployment.is_paused,
    done=Outcome.PAUSED,
    already=Outcome.ALREADY_PAUSED,
)
UNPAUSE = BulkOperation(
    action="unpause",
    call=_unpause,
    reached=lambda deployment: not deployment.is_archived and not deployment.is_paused,
    done=Outcome.UNPAUSED,
    already=Outcome.ALREADY_ACTIVE,
)
