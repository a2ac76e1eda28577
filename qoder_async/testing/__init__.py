"""Testing helpers: a faithful fake Qoder server and a pytest plugin.

``FakeQoderServer`` is an independent oracle of the Deployments API: it imports nothing
from the SDK (only aiohttp and the standard library), so a test that passes against it
checks the SDK against the wire reference rather than against itself.

Endpoint names (keys of ``request_counts`` and ``applied``): ``deployments.create``,
``deployments.list``, ``deployments.get``, ``deployments.update``, ``deployments.pause``,
``deployments.unpause``, ``deployments.archive``, ``deployments.run``,
``deployments.runs.list``, ``deployments.runs.get``, ``deployment_runs.list``,
``deployment_runs.get`` (and ``unknown`` for unmatched paths).

Every name below is imported on first access (PEP 562): the pytest plugin lives in this
package and is loaded into every pytest run of every project that installs the SDK, so
importing the package must not import ``aiohttp.web`` or the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qoder_async.testing.cron import CronError, next_fire_times, parse_cron
    from qoder_async.testing.faults import (
        DEFAULT_RANDOM_KINDS,
        FAULT_KINDS,
        Fault,
        FaultKind,
        FaultPlan,
    )
    from qoder_async.testing.server import (
        DEFAULT_BASE_PATH,
        DEFAULT_TOKEN,
        ENDPOINTS,
        FakeQoderServer,
        serve_forever,
    )
    from qoder_async.testing.state import DEFAULT_SEED_SCHEDULE, FakeState
    from qoder_async.testing.throttle import Throttle
    from qoder_async.testing.views import DeploymentView, InjectedFault, RunView

#: Public name -> the submodule that defines it.
_HOMES = {
    "CronError": "cron",
    "next_fire_times": "cron",
    "parse_cron": "cron",
    "DEFAULT_RANDOM_KINDS": "faults",
    "FAULT_KINDS": "faults",
    "Fault": "faults",
    "FaultKind": "faults",
    "FaultPlan": "faults",
    "DEFAULT_BASE_PATH": "server",
    "DEFAULT_TOKEN": "server",
    "ENDPOINTS": "server",
    "FakeQoderServer": "server",
    "serve_forever": "server",
    "DEFAULT_SEED_SCHEDULE": "state",
    "FakeState": "state",
    "Throttle": "throttle",
    "DeploymentView": "views",
    "InjectedFault": "views",
    "RunView": "views",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "DEFAULT_BASE_PATH",
    "DEFAULT_RANDOM_KINDS",
    "DEFAULT_SEED_SCHEDULE",
    "DEFAULT_TOKEN",
    "ENDPOINTS",
    "FAULT_KINDS",
    "CronError",
    "DeploymentView",
    "FakeQoderServer",
    "FakeState",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "InjectedFault",
    "RunView",
    "Throttle",
    "next_fire_times",
    "parse_cron",
    "serve_forever",
]
