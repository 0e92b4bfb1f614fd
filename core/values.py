"""What ``log()`` accepts: str keys; int, float, bool, str or None values (NumPy/Torch scalars via
``.item()``); nested dicts are flattened with ``/`` (``{"train": {"loss": 1}}`` -> ``train/loss``).
Anything else is rejected with an error that names the key, before anything is queued.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from .errors import UsageError

FAST_TYPES = frozenset({int, float, str})
RESERVED = frozenset({"_step"})


def normalize(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The slow path of ``Run.log``: convert or reject every value, flatten nested dicts."""
    if not isinstance(data, Mapping):
        raise UsageError(f"log() data {data!r} is not a dict: expected a dict of metric name -> number or str")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            raise UsageError(f"log() key {key!r} is not a non-empty str")
        name = prefix + key
        if name in RESERVED:
            raise UsageError(f"log() key {name!r} is reserved: pass step=... instead")
        if isinstance(value, Mapping):
            out.update(normalize(value, name + "/"))
            continue
        out[name] = scalar(name, value)
    return out


def scalar(name: str, value: Any) -> int | float | str | None:
    if value is None or type(value) in FAST_TYPES:
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str)):  # subclasses (IntEnum, numpy.float64)
        return float(value) if isinstance(value, float) else int(value) if isinstance(value, int) else str(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            got = item()
        except (ValueError, RuntimeError):
            got = None  # a tensor/array with more than one element
        else:
            if isinstance(got, (bool, int, float, str)):
                return scalar(name, got)
    raise UsageError(f"log() value for {name!r} is {type(value).__name__}: expected int, float, bool, str, None, or a 0-d array/tensor")


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
