"""Benchmarks for qoder-async: ``python -m benchmarks`` (or ``make bench``).

Sections, each in its own module with a ``run(settings) -> Section`` function:

* ``bulk``: archive thousands of deployments against a fake server in another process:
  ``bulk_archive`` vs a raw aiohttp loop vs the vendor's ``qca-sdk``;
* ``overhead``: per-call cost of the whole chain plus decoding, with no network;
* ``decoding``: a 1,000-item page into models: ours vs pydantic v2 vs msgspec;
* ``memory``: peak RSS while iterating 100,000 deployments through ``list()``;
* ``imports``: ``import qoder_async`` vs its dependencies vs ``import qca.managed``.

``report`` prints one Markdown table per section plus the targets, and writes
``benchmarks/results/latest.json``. The comparison clients come with the ``bench``
extra (``pip install -e '.[bench]'``); without it their columns read "n/a".
"""
