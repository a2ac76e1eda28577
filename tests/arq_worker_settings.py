"""arq worker settings for the multi-process tests (imported by the worker processes).

Short ``job_timeout`` on purpose: arq re-runs the job of a dead worker once the job's
in-progress key expires, ``job_timeout + 10`` seconds after the job started, and the
test must stay well under a minute.
"""

from __future__ import annotations

import os

from arq.connections import RedisSettings

from qoder_async.contrib.arq import QoderWorkerSettings


class WorkerSettings(QoderWorkerSettings):
    """Two of these run side by side in the SIGKILL test."""

    redis_settings = RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    job_timeout = 6
    poll_delay = 0.1
    qoder_concurrency = 8
    qoder_checkpoint_interval = 0.1
