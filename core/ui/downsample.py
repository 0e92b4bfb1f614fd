"""Min/max bucket downsampling: keeps every spike and dip, which is what a training curve's reader
looks for (a mean or a stride would hide a loss spike)."""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any


def minmax(steps: list[int], values: list[Any], max_points: int) -> tuple[list[int], list[Any]]:
    """At most ``max_points`` points: per bucket of consecutive points, its minimum and maximum
    (in step order), plus the first and last point. Non-numbers and NaN are dropped (chart gaps)."""
    if not all(type(v) in (int, float) and v == v for v in values):
        keep = [i for i, v in enumerate(values) if isinstance(v, (int, float)) and not isinstance(v, bool)
                and not (isinstance(v, float) and math.isnan(v))]
        steps, values = [steps[i] for i in keep], [values[i] for i in keep]
    n = len(values)
    if n <= max_points or max_points < 4:
        return list(steps), list(values)
    buckets = max_points // 2 - 1
    size = n / buckets
    picks = [0]
    for b in range(buckets):
        a, e = int(b * size), int((b + 1) * size)
        chunk = values[a:e]  # min/max/index run in C: the whole pass stays well under a second for 1 M points
        if chunk:
            i, j = a + chunk.index(min(chunk)), a + chunk.index(max(chunk))
            picks.extend((i, j) if i <= j else (j, i))
    picks.append(n - 1)
    out = sorted(set(picks))
    return [steps[i] for i in out], [values[i] for i in out]


def minmax_indices(values: list[Any], max_points: int, keep: tuple[int, ...] = ()) -> list[int]:
    """The indices ``minmax`` keeps, in order, plus those of ``keep`` that hold a plotted value
    (e.g. both sides of a fork's branch point). Non-numbers, NaN and inf are left out (chart gaps)."""
    try:  # one C-level pass tells whether every value is a finite number (the usual case)
        total = sum(values)
        clean = isinstance(total, (int, float)) and math.isfinite(total)
    except TypeError:
        clean = False
    pos: list[int] | None
    if clean:
        pos = None
        vals = values
    else:
        pos = [i for i, v in enumerate(values) if type(v) in (int, float) and math.isfinite(v)]
        vals = [values[i] for i in pos]
    n = len(vals)
    if n <= max_points - len(keep) or max_points < 4 + len(keep):
        picks: Any = range(n)
    else:
        buckets = (max_points - len(keep)) // 2 - 1  # first, last and ``keep`` fit in the budget too
        size = n / buckets
        got = [0, n - 1]
        for b in range(buckets):
            a, e = int(b * size), int((b + 1) * size)
            chunk = vals[a:e]
            if chunk:
                got.append(a + chunk.index(min(chunk)))
                got.append(a + chunk.index(max(chunk)))
        picks = got
    out = set(picks) if pos is None else {pos[i] for i in picks}
    for i in keep:
        if 0 <= i < len(values) and (pos is None or (bisect_left(pos, i) < n and pos[bisect_left(pos, i)] == i)):
            out.add(i)
    return sorted(out)
