"""What ``log()`` accepts: str keys; int, float, bool, str or None values (NumPy/Torch scalars and
0-d arrays via ``.item()``); nested dicts are flattened with ``/`` (``{"train": {"loss": 1}}`` ->
``train/loss``). Anything else is rejected with an error that names the key, before anything is
queued, so the writer never meets a row the stores cannot hold:

- a key is a non-empty str of at most ``MAX_KEY_BYTES`` bytes of UTF-8, without NUL characters or
  lone surrogates (PostgreSQL text cannot hold NUL; an index entry has a size limit);
- two spellings of one flattened key in one row (``{"c/d": 1, "c": {"d": 2}}``) are an error;
- steps are ``0 <= step <= MAX_STEP`` (checked by ``Run.log``).

Media values (``forkpoint.Image``, ``Histogram``, ``Table``) pass through ``normalize`` as they are;
``Run.log`` stores their blobs and puts a reference in the row (``media.py``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from .errors import UsageError
from .media import Media, MediaList

FAST_TYPES = frozenset({int, float, str})
RESERVED = frozenset({"_step"})
MAX_KEY_BYTES = 1024


def check_key(name: object) -> str:
    """``name`` if the stores can hold it as a metric key, else a ``UsageError`` naming it."""
    if not isinstance(name, str) or not name:
        raise UsageError(f"log() key {name!r} is not a non-empty str")
    if name in RESERVED:
        raise UsageError(f"log() key {name!r} is reserved: pass step=... instead")
    if "\x00" in name:
        raise UsageError(f"log() key {name!r} contains a NUL character, which the stores cannot hold")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise UsageError(f"log() key {name!r} is not valid Unicode text (a lone surrogate)") from None
    if size > MAX_KEY_BYTES:
        raise UsageError(f"log() key {name[:60]!r}... is {size} bytes long: keys are at most {MAX_KEY_BYTES} bytes")
    return name


def normalize(data: Mapping[str, Any], prefix: str = "", bad: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The slow path of ``Run.log``: convert or reject every value, flatten nested dicts.

    With ``bad`` (a list): a value that is not accepted is left out of the row and ``(key, why)``
    appended, so the rest of the row can still be written; bad keys always raise."""
    if not isinstance(data, Mapping):
        raise UsageError(f"log() data {data!r} is not a dict: expected a dict of metric name -> number or str")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            raise UsageError(f"log() key {key!r} is not a non-empty str")
        name = prefix + key
        if isinstance(value, Mapping):
            got = normalize(value, name + "/", bad)
        elif bad is None:
            got = {check_key(name): scalar(name, value)}
        else:
            check_key(name)
            try:
                got = {name: scalar(name, value)}
            except UsageError as exc:
                bad.append((name, str(exc)))
                continue
        clash = got.keys() & out.keys()
        if clash:
            raise UsageError(f"log() row names key {sorted(clash)[0]!r} twice (once nested, once with '/'): "
                             "keep one spelling")
        out.update(got)
    return out


def scalar(name: str, value: Any) -> Any:
    """``value`` as a stored scalar (or a ``Media`` value, passed through), else ``UsageError``."""
    if value is None or type(value) in FAST_TYPES or isinstance(value, Media):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Media) and not isinstance(v, MediaList)
                                                          for v in value):
        return MediaList(value)  # [Image(a), Image(b)]: W&B's image lists
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str)):  # subclasses (IntEnum, numpy.float64)
        return float(value) if isinstance(value, float) else int(value) if isinstance(value, int) else str(value)
    ndim = getattr(value, "ndim", 0)
    if ndim not in (0, None):
        raise UsageError(f"log() value for {name!r} is a {ndim}-d {type(value).__name__}: expected a scalar "
                         "(0-d); log one key per element, or a summary such as its mean")
    item = getattr(value, "item", None)
    if callable(item):
        try:
            got = item()
        except (ValueError, RuntimeError):
            got = None  # a tensor/array with more than one element
        else:
            if isinstance(got, (bool, int, float, str)):
                return scalar(name, got)
    raise UsageError(f"log() value for {name!r} is {type(value).__name__}: "
                     "expected int, float, bool, str, None, a 0-d array/tensor, or forkpoint.Image / Histogram / Table")


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
