"""``define_metric``: which summary a metric keeps (W&B's ``summary="min"|"max"|"mean"|"first"|"last"|"none"``).

W&B computes these aggregates on its server and, after a rewind, "recomputes the summary from the
newly logged history". Here the live run computes them: when a metric is defined, its aggregates
are seeded from the run's *visible* history (the rows a rewind kept, or a fork's inherited prefix
plus its own), then every ``log()`` folds its values in. So a summary follows rewinds and forks
by construction: an abandoned branch's values are not in the visible history, hence not in it.

Shape, as W&B's: a metric summarised only by ``last`` (the default) is its plain last value; with
other operations it is a dict (``{"min": 0.1}``, ``{"max": 9, "mean": 4.5}``); ``"none"`` leaves
the metric out of the summary. Names ending in ``*`` match by prefix (``"val/*"``), as in W&B (no
other globbing). Only numbers are aggregated (media references and text keep their last value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .errors import UsageError

OPS = ("min", "max", "mean", "first", "last", "none")
GOALS = ("minimize", "maximize")


@dataclass
class MetricDef:
    """One ``define_metric`` call (later calls for the same name replace what they pass)."""

    name: str
    step_metric: str | None = None
    summary: tuple[str, ...] = ()  # empty: W&B's default, the last value
    goal: str | None = None
    hidden: bool = False

    def matches(self, key: str) -> bool:
        return key.startswith(self.name[:-1]) if self.name.endswith("*") else key == self.name


def parse_summary(summary: Any, goal: Any) -> tuple[str, ...]:
    """``"min,max"`` -> ("min", "max"); ``"best"`` (older W&B) needs ``goal`` and means min or max."""
    if summary is None:
        return ()
    if not isinstance(summary, str) or not summary.strip():
        raise UsageError(f"define_metric summary={summary!r}: expected one or more of {', '.join(OPS)} "
                         "(comma-separated, e.g. 'min,max')")
    ops: list[str] = []
    for op in (s.strip().lower() for s in summary.split(",")):
        if op == "best":
            if goal is None:
                raise UsageError("define_metric summary='best' needs goal='minimize' or 'maximize'")
            op = "min" if goal == "minimize" else "max"
        elif op == "copy":
            op = "last"  # W&B's deprecated spelling of the default
        if op not in OPS:
            raise UsageError(f"define_metric summary={summary!r}: {op!r} is not one of {', '.join(OPS)}")
        if op not in ops:
            ops.append(op)
    if "none" in ops and len(ops) > 1:
        raise UsageError(f"define_metric summary={summary!r}: 'none' cannot be combined with other operations")
    return tuple(ops)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or name == "_step":
        raise UsageError(f"define_metric name {name!r} is not a metric name")
    if "*" in name[:-1]:
        raise UsageError(f"define_metric name {name!r}: only a trailing '*' is supported (e.g. 'val/*'), as in W&B")
    return name


@dataclass
class _Agg:
    n: int = 0
    total: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    first: Any = None

    def add(self, v: float) -> None:
        if self.n == 0:
            self.first = v
        self.n += 1
        self.total += v
        if v < self.lo:
            self.lo = v
        if v > self.hi:
            self.hi = v


@dataclass
class Metrics:
    """The run's metric definitions and the aggregates of the keys they govern."""

    defs: list[MetricDef] = field(default_factory=list)
    _ops: dict[str, tuple[str, ...] | None] = field(default_factory=dict)  # key -> ops (cache)
    _aggs: dict[str, _Agg] = field(default_factory=dict)

    def define(self, d: MetricDef) -> None:
        self.defs = [x for x in self.defs if x.name != d.name] + [d]
        self._ops.clear()

    def ops(self, key: str) -> tuple[str, ...] | None:
        """The summary operations for ``key`` (the newest matching definition with a summary), or None."""
        got = self._ops.get(key, False)
        if got is False:
            got = None
            for d in reversed(self.defs):
                if d.summary and d.matches(key):
                    got = d.summary
                    break
            self._ops[key] = got
        return got  # type: ignore[return-value]

    def seed(self, key: str, values: Iterable[Any]) -> None:
        """Start ``key``'s aggregates over ``values`` (its visible history, in step order)."""
        agg = self._aggs[key] = _Agg()
        for v in values:
            if _number(v):
                agg.add(v)

    def observe(self, row: Mapping[str, Any]) -> None:
        """Fold a logged row in (called by ``log()`` once metrics are defined)."""
        aggs = self._aggs
        for k, v in row.items():
            agg = aggs.get(k)
            if agg is None:
                if self.ops(k) is None:
                    continue
                agg = aggs[k] = _Agg()
            if _number(v):
                agg.add(v)

    def value(self, key: str, last: Any) -> Any:
        """``key``'s summary entry given its last value; ``KeyError`` for ``summary="none"``."""
        ops = self.ops(key)
        if not ops or ops == ("last",):
            return last
        if ops == ("none",):
            raise KeyError(key)
        agg = self._aggs.get(key)
        if agg is None or agg.n == 0:
            return last  # no number logged yet (text, media): nothing to aggregate
        out: dict[str, Any] = {}
        for op in ops:
            out[op] = {"min": agg.lo, "max": agg.hi, "mean": agg.total / agg.n, "first": agg.first, "last": last}[op]
        return out

    def governed(self) -> dict[str, tuple[str, ...]]:
        """Keys with an aggregated summary seen so far -> their operations."""
        return {k: ops for k in self._aggs if (ops := self.ops(k))}


def _number(v: Any) -> bool:
    return type(v) in (int, float) and not (type(v) is float and math.isnan(v))


def is_rendered(value: Any) -> bool:
    """Whether a stored summary value has the shape ``value`` gives for aggregates (a dict of ops)."""
    return isinstance(value, dict) and bool(value) and set(value) <= set(OPS)
