"""The error raised when an integration's optional dependency is not installed."""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(extra: str, module: str) -> ImportError:
    """An ImportError that names the ``pip install`` command bringing ``module``."""
    return ImportError(
        f"qoder_async.contrib.{extra} needs the {module!r} package, which is not installed: "
        f"pip install 'qoder-async[{extra}]'",
        name=module,
    )
