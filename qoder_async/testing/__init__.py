"""Testing helpers: a faithful fake Qoder server and a pytest plugin.

``FakeQoderServer`` is an independent oracle of the Deployments API: it imports nothing
from the SDK (only aiohttp and the standard library), so a test that passes against it
checks the SDK against the wire reference rather than against itself.

Endpoint names (keys of ``request_counts`` and ``applied``): ``deployments.create``,
``deployments.list``, ``deployments.get``, ``deployments.update``, ``deployments.pause``,
``deployments.unpause``, ``deployments.archive``, ``deployments.run``,
``deployments.runs.list``, ``deployments.runs.get``, ``deployment_runs.list``,
``deployment_runs.get`` (and ``unknown`` for unmatched paths).
"""

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

__all__ = [
    "DEFAULT_BASE_PATH",
    "DEFAULT_RANDOM_KINDS",
    "DEFAULT_SEED_SCHEDULE",
    "DEFAULT_TOKEN",
    "ENDPOINTS",
    "FAULT_KINDS",
    "CronError",
    "FakeQoderServer",
    "FakeState",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Throttle",
    "next_fire_times",
    "parse_cron",
    "serve_forever",
]
