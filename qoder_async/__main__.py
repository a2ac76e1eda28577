"""``python -m qoder_async``: the ``qoder-async`` command line."""

from qoder_async.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
