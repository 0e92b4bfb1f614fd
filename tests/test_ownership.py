"""Who owns what: store fields by name only, threads stopped by finish(), one registry of open runs."""

from __future__ import annotations

import threading

import forkpoint
import pytest
from forkpoint import lifecycle
from forkpoint.store import open_store


def test_store_updates_take_only_known_fields(store):
    st = open_store(store)
    with forkpoint.init(project="p", store=store) as run:
        pass
    with pytest.raises(ValueError, match="unknown field"):
        with st.transaction():
            st.update_run(run.id, **{"state = 'x', project": "y"})
    with pytest.raises(ValueError, match="unknown field"):
        with st.transaction():
            st.update_segment(run.segment, bogus=1)
    assert forkpoint.Api(store).run(run.id).state == "finished"


def test_finish_stops_and_joins_every_thread_it_started(store):
    before = {t.ident for t in threading.enumerate()}
    run = forkpoint.init(project="p", store=store, system_metrics=0.05, flush_interval=0.05)
    started = [t for t in threading.enumerate() if t.ident not in before]
    assert {t.name.split("-")[1] for t in started} >= {"writer", "sys"}
    run.log({"a": 1})
    run.finish()
    assert not [t for t in started if t.is_alive()]


def test_one_registry_of_open_runs(store):
    run = forkpoint.init(project="p", store=store)
    assert lifecycle.live(run.id) is run and run in lifecycle.open_runs()
    run.finish()
    assert lifecycle.live(run.id) is None and run not in lifecycle.open_runs()
