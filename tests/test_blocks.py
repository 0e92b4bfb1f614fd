"""Block storage: packing, open-block growth, boundaries, merges across batches."""

import math

import forkpoint
import pytest
from forkpoint.store import blocks


def test_encode_decode_round_trip():
    for values in ([0.5, float("nan"), float("inf")], [1, 2, 2**62], ["a", None, 1, 2.5], [2**70]):
        enc, blob = blocks.encode(values)
        got = blocks.decode(enc, blob)
        assert len(got) == len(values)
        for a, b in zip(got, values):
            assert (a == b and type(a) is type(b)) or (math.isnan(a) and math.isnan(b))
    assert blocks.encode([1.0, 2.0])[0] == "d" and blocks.encode([1, 2])[0] == "q" and blocks.encode(["x"])[0] == "j"


def test_group_keeps_last_value_of_a_repeated_step():
    per = blocks.group([(1, {"a": 1}), (1, {"a": 2, "b": 3}), (2, {"a": 4})])
    assert per == {"a": ([1, 2], [2, 4]), "b": ([1], [3])}


def test_plan_extends_open_block_and_splits(monkeypatch):
    monkeypatch.setattr(blocks, "MAX_BLOCK", 3)
    open_blocks = {}
    w = blocks.plan(open_blocks, {"a": ([0, 1], [0, 1])})
    blocks.adopt(open_blocks, w, [10])
    w = blocks.plan(open_blocks, {"a": ([1, 2, 3, 4, 5, 6], [11, 2, 3, 4, 5, 6])})
    assert [(x.id, x.block.steps, x.block.values) for x in w] == [
        (10, [0, 1, 2], [0, 11, 2]), (None, [3, 4, 5], [3, 4, 5]), (None, [6], [6])]
    assert open_blocks["a"].steps == [0, 1]  # untouched until adopt


def test_merge_prefers_later_block_at_boundary_and_slices():
    enc = lambda st, vs: (st[0], st[-1], blocks.encode_steps(st), *blocks.encode(vs))  # noqa: E731
    bl = [enc([0, 1, 2], [0.0, 1.0, 2.0]), enc([2, 3, 4], [20.0, 3.0, 4.0])]
    bl = [(a, b, c, d, e) for a, b, c, d, e in bl]
    assert blocks.merge(bl, 0, 10) == ([0, 1, 2, 3, 4], [0.0, 1.0, 20.0, 3.0, 4.0])
    assert blocks.merge(bl, 1, 3) == ([1, 2, 3], [1.0, 20.0, 3.0])
    assert blocks.last_in(iter(reversed(bl)), 0, 2) == (2, 20.0)
    assert blocks.last_in(iter(reversed(bl)), 5, 9) is None


@pytest.mark.parametrize("max_block", [2, 5, 4096])
def test_end_to_end_across_blocks_and_flushes(store, api, monkeypatch, max_block):
    monkeypatch.setattr(blocks, "MAX_BLOCK", max_block)
    run = forkpoint.init(store=store, flush_interval=60)
    for i in range(23):
        run.log({"a": i}, commit=False)
        if i % 4 == 0:
            run.flush()  # the open row is flushed, then merged into again
        run.log({"b": float(i), "a": i * 10})
        if i % 3 == 0:
            run.flush()
    run.finish()
    h = api.run(run.id).history()
    assert h == [{"_step": i, "a": i * 10, "b": float(i)} for i in range(23)]
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=11") as r:
        r.log({"a": -1})
    assert api.run(run.id).history(keys=["a"])[-3:] == [{"_step": 10, "a": 100}, {"_step": 11, "a": 110},
                                                         {"_step": 12, "a": -1}]
    assert api.run(run.id).summary == {"a": -1, "b": 11.0}
