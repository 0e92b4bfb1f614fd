"""Min/max bucket downsampling: keeps every spike and dip, which is what a training curve's reader
looks for (a mean or a stride would hide a loss spike)."""

from __future__ import annotations

import math
from typing import Any


def minmax(steps: list[int], values: list[Any], max_points: int) -> tuple[list[int], list[Any]]:
    """At most ``max_points`` points: per bucket of consecutive points, its minimum and maximum
    (in step order), plus the first and last point. Non-numeric values are dropped."""
    pairs = [(s, v) for s, v in zip(steps, values) if isinstance(v, (int, float)) and not isinstance(v, bool)
             and not (isinstance(v, float) and math.isnan(v))]
    n = len(pairs)
    if n <= max_points or max_points < 4:
        return [s for s, _ in pairs], [v for _, v in pairs]
    buckets = max_points // 2 - 1
    size = n / buckets
    out_s, out_v = [pairs[0][0]], [pairs[0][1]]
    for b in range(buckets):
        chunk = pairs[int(b * size):int((b + 1) * size)]
        if not chunk:
            continue
        lo = min(chunk, key=lambda p: p[1])
        hi = max(chunk, key=lambda p: p[1])
        for s, v in sorted({lo, hi}):
            if s != out_s[-1]:
                out_s.append(s)
                out_v.append(v)
    if out_s[-1] != pairs[-1][0]:
        out_s.append(pairs[-1][0])
        out_v.append(pairs[-1][1])
    return out_s, out_v
