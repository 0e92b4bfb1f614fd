"""The two W&B pages' examples (shared/seeds), written with correct steps.

W&B's own examples log twice per iteration (so ``_step`` advances by 2) and fork at 200 but then
log "from 200", putting value i at step i+1 (wandb#10607/#10608). Here each value goes to step i.
"""

import math

import forkpoint
import pytest


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


# --- The pages' code samples, verbatim -------------------------------------------------------
# Each sample below is the seed page's code as published; only `import wandb` becomes
# `import forkpoint as wandb` and the <placeholders> are filled in (`_run`). The fork page's text
# lost its indentation, its `else:` and a closing parenthesis when it was captured; they are
# restored as on W&B's page. Its first snippet ("Start a forked run") is cut off mid-call in the
# seed and cannot run. The store comes from FORKPOINT_STORE (both stores, through `store`).

REWIND_PAGE_1 = '''\
import wandb

# Initialize the first run and log some metrics
with wandb.init(project="<project>", entity="wandb") as run:
    for i in range(300):
        # Plot a linear line
        run.log({"metric": i, "step": i})
'''

REWIND_PAGE_2 = '''\
import math

run_ID = "<run_ID>" # Replace with the run ID of the run you want to rewind

# Rewind from the first run at a specific step and log the metric starting from step 200
with wandb.init(project="<project>", entity="wandb", resume_from=f"{run_ID}?_step=200") as run:

    # For the first few steps, log the metric as is from run
    # After step 250, start logging the wavy pattern
    for i in range(200, 300):
        if i < 250:
            run.log({"metric": i, "step": i})  # Continue logging from run without waves
        else:
            # Introduce the wavy behavior starting from step 250
            subtle_wave = i + (2 * math.sin(i / 3.0))  # Apply a subtle wavy pattern
            run.log({"metric": subtle_wave, "step": i})
        # Additionally log the new metric at all steps
        run.log({"additional_metric": i * 1.1, "step": i})
'''

REWIND_PAGE_3 = '''\
import wandb

# Fork the run from a specific step
forked_run = wandb.init(
    project="<project>",
    entity="<entity>",
    fork_from=f"{rewind_run.id}?_step=500",
)

# Continue logging in the new run
for i in range(500, 1000):
    forked_run.log({"metric": i*3})
forked_run.finish()
'''

FORK_PAGE = '''\
import wandb
import math

# Initialize the first run and log some metrics
run1 = wandb.init("your_project_name", entity="your_entity_name")
for i in range(300):
    run1.log({"metric": i})

# Fork from the first run at a specific step and log the metric starting from step 200
run2 = wandb.init(
    "your_project_name", entity="your_entity_name", fork_from=f"{run1.id}?_step=200"
)

# Continue logging in the new run
# For the first few steps, log the metric as is from run1
# After step 250, start logging the spikey pattern
for i in range(200, 300):
    if i < 250:
        run2.log({"metric": i})  # Continue logging from run1 without spikes
    else:
        # Introduce the spikey behavior starting from step 250
        subtle_spike = i + (2 * math.sin(i / 3.0))  # Apply a subtle spikey pattern
        run2.log({"metric": subtle_spike})
    # Additionally log the new metric at all steps
    run2.log({"additional_metric": i * 1.1})
'''


def _run(sample: str, ns: dict, **placeholders: str) -> dict:
    code = sample.replace("import wandb", "import forkpoint as wandb")
    for name, value in placeholders.items():
        code = code.replace(f"<{name}>", value)
    exec(compile(code, "<seed sample>", "exec"), ns)
    return ns


@pytest.fixture
def env_store(store, monkeypatch):
    monkeypatch.setenv("FORKPOINT_STORE", store)
    monkeypatch.setenv("FORKPOINT_QUIET", "1")
    return store


def test_rewind_page_samples_verbatim(env_store, api):
    ns = _run(REWIND_PAGE_1, {}, project="seeds")
    run_id = ns["run"].id
    first = api.run(f"seeds/{run_id}")
    assert first.history()[:3] == [{"_step": i, "metric": i, "step": i} for i in range(3)]
    assert first.last_step == 299 and first.state == "finished"
    assert api.store.get_run(run_id).entity == "wandb"

    _run(REWIND_PAGE_2, ns, project="seeds", run_ID=run_id)
    assert ns["run"].id == run_id  # a rewind keeps the run id
    v = api.run(run_id)
    h = {r["_step"]: r for r in v.history()}
    # the page logs twice per iteration, so _step goes up by 2 per i (wandb#10607)
    assert h[200] == {"_step": 200, "metric": 200, "step": 200}
    assert h[201] == {"_step": 201, "metric": 200, "step": 200}
    assert h[202] == pytest.approx({"_step": 202, "additional_metric": 220.0, "step": 200})
    assert h[301]["metric"] == pytest.approx(wave(250)) and v.last_step == 400
    (arch,) = v.archived()
    assert arch.history() == [{"_step": i, "metric": i, "step": i} for i in range(300)]
    assert v.summary["metric"] == pytest.approx(wave(299))

    # the third sample forks `rewind_run` at 500; the rewound run above ends at 400: refused,
    # with the last step named (W&B would accept it, sending nothing to check)
    ns["rewind_run"] = ns["run"]
    with pytest.raises(forkpoint.StepError, match="beyond the last step .* which is 400"):
        _run(REWIND_PAGE_3, ns, project="seeds", entity="wandb")
    assert [r.id for r in api.runs("seeds")] == [run_id]  # nothing written

    # on a rewound run that reaches step 500, the sample runs as written
    with forkpoint.init(project="seeds", resume_from=f"{run_id}?_step=300") as again:
        for i in range(300):
            again.log({"metric": i})
    ns["rewind_run"] = again
    _run(REWIND_PAGE_3, ns, project="seeds", entity="wandb")
    fork = api.run(ns["forked_run"].id)
    assert fork.parent == (run_id, 500) and fork.state == "finished"
    assert [r["_step"] for r in fork.history()] == list(range(1001))
    assert fork.history()[500] == {"_step": 500, "metric": 199}  # the rewound run's row at 500
    assert fork.history(own_only=True) == [{"_step": 501 + k, "metric": (500 + k) * 3} for k in range(500)]


def test_fork_page_sample_verbatim(env_store, api):
    ns = _run(FORK_PAGE, {})
    run1, run2 = ns["run1"], ns["run2"]
    assert forkpoint.run is run2  # the newest init is the current run; run1 stays open, as written
    run2.finish()
    run1.finish()
    child = api.run(f"your_project_name/{run2.id}")
    assert child.parent == (run1.id, 200) and child.kind == "fork"
    h = child.history()
    assert h[:201] == [{"_step": i, "metric": i} for i in range(201)]
    # two log() calls per i: metric at 201 + 2k, additional_metric at 202 + 2k
    assert h[201] == {"_step": 201, "metric": 200} and h[202] == pytest.approx({"_step": 202, "additional_metric": 220.0})
    assert h[201 + 2 * 50]["metric"] == pytest.approx(wave(250))
    assert child.last_step == 400 and api.run(run1.id).last_step == 299
    assert api.store.get_run(run2.id).entity == "your_entity_name"
