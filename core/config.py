"""Config merging. W&B replaces whole top-level subtrees on resume; we merge deeply.

``deep_merge(old, new)``: new values win, nested dicts merge key by key. ``changed_keys`` lists the
dotted keys whose value the merge added or changed; it is recorded on the new segment so a user can
see what a rewind or fork changed.
"""

from __future__ import annotations

import copy
import enum
import json
from typing import Any, Mapping

from .errors import UsageError


def deep_merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(old))
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def changed_keys(old: Mapping[str, Any], merged: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in merged.items():
        path = f"{prefix}{key}"
        if key not in old:
            keys.append(path)
        elif isinstance(value, Mapping) and isinstance(old[key], Mapping):
            keys.extend(changed_keys(old[key], value, path + "."))
        elif old[key] != value:
            keys.append(path)
    return keys


def to_plain(config: Any, what: str = "config") -> dict[str, Any]:
    """Turn ``config`` (a dict, argparse Namespace, dataclass...) into a JSON-safe dict, or raise."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        if hasattr(config, "__dict__") and not isinstance(config, type):
            config = vars(config)
        else:
            raise UsageError(f"{what} {config!r} is not a mapping: expected a dict of JSON-serialisable values")
    try:
        return json.loads(json.dumps(dict(config), allow_nan=True))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{what} has a value that is not JSON-serialisable ({exc}); "
                         "convert it to str, a number, a list or a dict") from None


def json_safe(value: Any) -> Any:
    """Framework hyperparameters as JSON values: mappings and Namespaces become dicts, tuples lists,
    0-d tensors/arrays numbers, enums their value, callables their name, anything else ``str``."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if hasattr(value, "__dict__") and type(value).__name__ == "Namespace":
        return json_safe(vars(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return json_safe(item())
        except (ValueError, RuntimeError, TypeError):
            pass
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if callable(value):
        return getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or repr(value)
    return str(value)
