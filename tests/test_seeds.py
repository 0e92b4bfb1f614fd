"""The two W&B pages' examples (shared/seeds), written with correct steps.

W&B's own examples log twice per iteration (so ``_step`` advances by 2) and fork at 200 but then
log "from 200", putting value i at step i+1 (wandb#10607/#10608). Here each value goes to step i.
"""

import math

import pytest

import forkpoint


def wave(i: int) -> float:
    return i + 2 * math.sin(i / 3.0)


@pytest.fixture
def original(store):
    with forkpoint.init(project="seeds", store=store) as run:
        for i in range(300):
            run.log({"metric": i})
    return run.id


def test_rewind_example(store, api, original):
    with forkpoint.init(project="seeds", store=store, resume_from=f"{original}?_step=200") as run:
        assert run.step == 201
        for i in range(201, 300):
            run.log({"metric": i if i < 250 else wave(i), "additional_metric": i * 1.1}, step=i)
    v = api.run(original)
    h = v.history()
    assert [r["_step"] for r in h] == list(range(300))
    assert [r["metric"] for r in h[:250]] == list(range(250))
    assert all(math.isclose(h[i]["metric"], wave(i)) for i in range(250, 300))
    assert "additional_metric" not in h[200] and math.isclose(h[201]["additional_metric"], 201 * 1.1)
    assert [r["_step"] for r in v.history(keys=["additional_metric"])] == list(range(201, 300))
    (arch,) = v.archived()
    assert arch.history() == [{"_step": i, "metric": i} for i in range(300)]
    assert v.summary["metric"] == pytest.approx(wave(299)) and arch.summary == {"metric": 299}


def test_fork_example(store, api, original):
    with forkpoint.init(project="seeds", store=store, fork_from=f"{original}?_step=200") as run:
        assert run.step == 201
        for i in range(201, 300):
            run.log({"metric": i if i < 250 else wave(i), "additional_metric": i * 1.1}, step=i)
    child = api.run(run.id)
    h = child.history()
    assert [r["_step"] for r in h] == list(range(300))
    assert h[:201] == [{"_step": i, "metric": i} for i in range(201)]
    assert all(math.isclose(h[i]["metric"], wave(i)) for i in range(250, 300))
    assert [r["_step"] for r in child.history(own_only=True)] == list(range(201, 300))
    assert api.run(original).history() == [{"_step": i, "metric": i} for i in range(300)]
    assert child.parent == (original, 200)
