"""Integrations with job runners: spread bulk work over many worker processes.

* :mod:`qoder_async.contrib.arq` — arq workers (``pip install 'qoder-async[arq]'``):
  lifecycle hooks with one client per worker, a chunk task, an enqueuer with
  deterministic job ids and a collector that merges chunk results into one report.
* :mod:`qoder_async.contrib.celery` — a recipe for synchronous Celery tasks
  (``pip install 'qoder-async[celery]'``): one event loop and one client per task.

Importing this package imports neither arq nor Celery; each submodule needs its extra.
"""
