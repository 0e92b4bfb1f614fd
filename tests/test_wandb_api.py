"""W&B's read paths: ``Api().runs("entity/project")``, ``Api().run("entity/project/id")`` and
``RunView.scan_history``, on both stores."""

from __future__ import annotations

import forkpoint as wandb
import pytest
from helpers import wandb_quiet  # noqa: F401  (autouse fixture)


def test_entity_paths(store, api):
    for entity, group in (("team", "g1"), ("team", "g2"), ("other", None)):
        with wandb.init("p", entity=entity, group=group, job_type="train", store=store) as run:
            run.log({"a": 1})
    with wandb.init("q", entity="team", store=store):
        pass
    team = api.runs("team/p")
    assert [v.group for v in team] == ["g1", "g2"] and {v.entity for v in team} == {"team"}
    assert len(api.runs("p")) == 3 and api.runs("nobody/p") == []
    view = api.run(f"team/p/{team[0].id}")
    assert (view.id, view.entity, view.job_type) == (team[0].id, "team", "train")
    with pytest.raises(wandb.RunNotFoundError, match="is in entity 'team', not 'other'"):
        api.run(f"other/p/{team[0].id}")
    with pytest.raises(wandb.RunNotFoundError, match="is in project 'p', not 'q'"):
        api.run(f"team/q/{team[0].id}")
    with pytest.raises(wandb.SpecError):
        api.runs("team/bad project")


def test_scan_history_pages_through_a_fork(store, api):
    with wandb.init("p", store=store) as run:
        for step in range(10):
            run.log({"loss": step, **({"val": -step} if step % 3 == 0 else {})})
    with wandb.init("p", fork_from=f"{run.id}?_step=5", store=store) as fork:
        for step in range(6, 12):
            fork.log({"loss": 100 + step})
    view = api.run(fork.id)
    rows = list(view.scan_history(page_size=4))
    assert rows == view.history() and [r["_step"] for r in rows] == list(range(12))
    assert list(view.scan_history(keys=["loss", "val"], page_size=2)) == [
        {"_step": s, "loss": s, "val": -s} for s in (0, 3)]  # only rows holding every key
    assert [r["_step"] for r in view.scan_history(min_step=4, max_step=8, page_size=3)] == [4, 5, 6, 7]
    assert [r["loss"] for r in view.scan_history(keys="loss", min_step=10)] == [110, 111]
    assert list(api.run(run.id).scan_history(min_step=50)) == []


def test_alert_levels_and_unsupported_names_say_so():
    """wandb.alert(level=wandb.AlertLevel.WARN) runs; a W&B name forkpoint lacks is an
    AttributeError that says it is not supported and where that is written down."""
    import forkpoint as wandb

    assert wandb.AlertLevel.WARN == "WARN" and "AlertLevel" in wandb.__all__
    with pytest.warns(wandb.ForkpointWarning, match="alert"):
        wandb.alert(title="t", text="x", level=wandb.AlertLevel.ERROR)
    for name in ("Artifact", "plot", "Video", "sweep"):
        assert not hasattr(wandb, name)
        with pytest.raises(AttributeError, match=rf"forkpoint has no wandb\.{name}: .* is not supported \(docs/wandb.md"):
            getattr(wandb, name)
    with pytest.raises(AttributeError, match="has no attribute 'nosuch'"):
        wandb.nosuch  # noqa: B018
