"""PluginOptions: every plugin's run options, refused when the plugin is built (nothing written)."""

from __future__ import annotations

import forkpoint
import pytest
from forkpoint.restore import PluginOptions


@pytest.mark.parametrize("kw, error, names", [
    ({"project": "a b"}, forkpoint.SpecError, "project"),
    ({"project": 3}, forkpoint.SpecError, "project"),
    ({"on_resume": "later"}, forkpoint.UsageError, "on_resume"),
    ({"name": 1}, forkpoint.UsageError, "name"),
    ({"id": ["x"]}, forkpoint.UsageError, "id"),
    ({"config": [1, 2]}, forkpoint.UsageError, "config"),
    ({"tags": "t"}, forkpoint.UsageError, "tags"),
    ({"tags": ["a", 1]}, forkpoint.UsageError, "tags"),
    ({"flush_interval": float("nan")}, forkpoint.UsageError, "flush_interval"),
    ({"flush_interval": True}, forkpoint.UsageError, "flush_interval"),
])
def test_bad_options_are_refused_with_their_name(kw, error, names, tmp_path):
    with pytest.raises(error, match=names):
        PluginOptions(store=f"sqlite:///{tmp_path / 'runs.db'}", **kw)
    assert not (tmp_path / "runs.db").exists()


def test_options_give_init_kwargs_and_constructor_args():
    o = PluginOptions(project="p", name="n", config={"t": (1, 2)}, tags=("a",), on_resume="fork", step_metric="epoch")
    assert o.user_config == {"t": [1, 2]} and o.tags == ["a"]
    assert o.init_kwargs() == dict(project="p", name="n", tags=["a"], notes=None, store=None, flush_interval=1.0)
    assert PluginOptions(**o.as_args()).as_args() == o.as_args()


def test_start_reuses_the_run_this_process_has_open(store):
    o = PluginOptions(project="p", store=store, step_metric="epoch")
    run = o.start({"a": 1})
    assert o.start({}, reopen=run.id) is run
    run.finish()
    again = o.start({}, reopen=run.id)
    assert again is not run and again.id == run.id and again.kind == "run"
    again.finish()
    assert forkpoint.Api(store).run(run.id).config == {"a": 1}
