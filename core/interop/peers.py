"""The other trackers are optional: each is imported only when its format is used, and a missing
one is a clear error naming the package and the extra that brings it."""

from __future__ import annotations

import importlib
from types import ModuleType

from .units import InteropError


class MissingPeerError(InteropError, ImportError):
    """The tracker a format needs is not installed."""


def need(module: str, package: str | None = None) -> ModuleType:
    """``import module``, or a ``MissingPeerError`` that says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pkg = package or module.split(".")[0]
        raise MissingPeerError(
            f"this format needs {pkg!r} ({exc}): pip install {pkg!r} or pip install 'forkpoint[interop]'") from None
