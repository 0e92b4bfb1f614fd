"""``define_metric`` summaries as in W&B, recomputed from the visible history (rewinds, forks).

Every test runs on SQLite and on PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import forkpoint as wandb
import pytest
from helpers import wandb_quiet  # noqa: F401  (autouse fixture)

LOSS = [5.0, 4.0, 1.0, 3.0, 2.0]


def test_summary_shapes_as_in_wandb(store, api):
    run = wandb.init("p", store=store)
    wandb.define_metric("loss", summary="min")
    wandb.define_metric("acc", summary="max,mean")
    wandb.define_metric("val/*", summary="first")
    wandb.define_metric("z", summary="none")
    for i, loss in enumerate(LOSS):
        wandb.log({"loss": loss, "acc": i, "val/x": i + 10, "val/y": -i, "z": i, "plain": i})
    s = dict(wandb.summary)
    assert s == {"loss": {"min": 1.0}, "acc": {"max": 4, "mean": 2.0}, "val/x": {"first": 10},
                 "val/y": {"first": 0}, "plain": 4}  # "none": no entry, as in W&B
    assert "z" not in wandb.summary
    wandb.finish()
    stored = api.run(run.id).summary
    assert {k: stored[k] for k in s} == s  # kept with the run (readers see the aggregates)


def test_summary_counts_rows_logged_before_define_metric(store):
    with wandb.init("p", store=store, flush_interval=5) as run:
        for loss in LOSS[:3]:
            run.log({"loss": loss})
        run.define_metric("loss", summary="max,last")
        run.log({"loss": 0.5})
        assert run.summary["loss"] == {"max": 5.0, "last": 0.5}


def test_summary_follows_a_rewind_and_a_fork(store, api):
    with wandb.init("p", store=store) as run:
        run.define_metric("loss", summary="min,first,mean")
        for loss in LOSS:
            run.log({"loss": loss})
    assert api.run(run.id).summary["loss"] == {"min": 1.0, "first": 5.0, "mean": 3.0}

    with wandb.init("p", resume_from=f"{run.id}?_step=1", store=store) as rewound:
        rewound.define_metric("loss", summary="min,first,mean")
        assert rewound.summary["loss"] == {"min": 4.0, "first": 5.0, "mean": 4.5}  # rows <= 1 only
        rewound.log({"loss": 3.0})
        assert rewound.summary["loss"] == {"min": 3.0, "first": 5.0, "mean": 4.0}
    v = api.run(run.id)
    assert v.summary["loss"] == {"min": 3.0, "first": 5.0, "mean": 4.0}
    (arch,) = v.archived()
    assert arch.summary["loss"] == {"min": 1.0, "first": 5.0, "mean": 3.0}  # the abandoned branch keeps its own

    with wandb.init("p", fork_from=f"{run.id}~1?_step=2", store=store) as fork:
        fork.define_metric("loss", summary="min,mean")
        fork.log({"loss": 7.0})
        assert fork.summary["loss"] == {"min": 1.0, "mean": 4.25}  # 5, 4, 1 inherited, then 7
    assert api.run(fork.id).summary["loss"] == {"min": 1.0, "mean": 4.25}
    assert api.run(run.id).summary["loss"] == {"min": 3.0, "first": 5.0, "mean": 4.0}  # the parent is unchanged


def test_resumed_run_recomputes_instead_of_trusting_the_stored_aggregate(store, api):
    with wandb.init("p", id="r", store=store) as run:
        run.define_metric("loss", summary="min")
        run.log({"loss": 2.0})
    with wandb.init("p", id="r", resume="must", store=store) as run:
        run.define_metric("loss", summary="min")
        run.log({"loss": 1.0})
        assert run.summary["loss"] == {"min": 1.0}
    assert api.run("r").summary["loss"] == {"min": 1.0}


def test_step_metric_is_a_branch_axis(store, api):
    with wandb.init("p", store=store) as run:
        wandb.define_metric("epoch")
        wandb.define_metric("val/*", step_metric="epoch", summary="max")
        for step in range(6):
            run.log({"train/loss": step, "epoch": step // 2, **({"val/acc": step} if step % 2 else {})})
    assert api.run(run.id).step_metrics == ["epoch"]
    with wandb.init("p", fork_from=f"{run.id}?epoch=1", store=store) as fork:
        assert fork.step == 4  # the last row with epoch <= 1 is step 3
        fork.define_metric("val/*", step_metric="epoch", summary="max")
        assert fork.summary["val/acc"] == {"max": 3}


def test_best_with_goal_and_bad_definitions(store):
    with wandb.init("p", store=store) as run:
        run.define_metric("acc", summary="best", goal="maximize")
        run.log({"acc": 1})
        run.log({"acc": 0})
        assert run.summary["acc"] == {"max": 1}
        for kwargs, fragment in [
            (dict(name="loss", summary="median"), "'median' is not one of min, max, mean, first, last, none"),
            (dict(name="loss", summary="min,none"), "'none' cannot be combined"),
            (dict(name="loss", summary="best"), "needs goal="),
            (dict(name="a*b"), "only a trailing '\\*' is supported"),
            (dict(name="loss", goal="up"), "goal='up'"),
            (dict(name="loss", hidden="yes"), "hidden='yes' is not a bool"),
            (dict(name="loss", step_metric="val/*"), "is a pattern"),
            (dict(name="_step"), "not a metric name"),
        ]:
            with pytest.raises(wandb.UsageError, match=fragment):
                run.define_metric(**kwargs)
        assert run.summary["acc"] == {"max": 1}
