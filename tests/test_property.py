"""Random sequences of log / rewind / fork / resume / finish, compared with a tiny in-memory model.

The model knows nothing about segments: a run is a dict ``step -> row`` that a rewind truncates
and a fork copies. After every operation each run's visible history, summary, config, lineage and
archived branches read from the real SQLite store must equal the model's.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import forkpoint
from forkpoint.store import blocks, close_store, open_store
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule


def merge(old: dict, new: dict) -> dict:
    out = copy.deepcopy(old)
    for k, v in new.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class Model:
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    step: int = 0
    start: int = 0
    config: dict = field(default_factory=dict)
    kind: str = "run"
    parent: tuple[str, int] | None = None
    archived: list[list[dict]] = field(default_factory=list)

    def history(self) -> list[dict]:
        return [{"_step": s, **self.rows[s]} for s in sorted(self.rows)]

    def summary(self) -> dict:
        out: dict = {}
        for row in self.history():
            out.update({k: v for k, v in row.items() if k != "_step"})
        return out

    def last(self) -> int | None:
        return max(self.rows) if self.rows else None


configs = st.fixed_dictionaries({}, optional={"lr": st.integers(0, 3), "opt": st.fixed_dictionaries(
    {}, optional={"m": st.integers(0, 3), "w": st.integers(0, 3)})})
rows = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(-5, 5), min_size=1, max_size=3)


class Lineage(RuleBasedStateMachine):
    def make_store(self) -> str:
        return f"sqlite:///{self.dir}/runs.db"

    def drop_store(self) -> None:
        pass

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp()
        self.store = self.make_store()
        open_store(self.store)  # a reader never creates a store
        self.api = forkpoint.Api(self.store)
        self.models: dict[str, Model] = {}
        self.open: dict[str, forkpoint.Run] = {}
        self.n = 0
        self.max_block, blocks.MAX_BLOCK = blocks.MAX_BLOCK, 3  # tiny blocks: boundaries everywhere

    def teardown(self) -> None:
        blocks.MAX_BLOCK = self.max_block
        for run in self.open.values():
            run.finish()
        close_store(self.store)
        self.drop_store()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _id(self) -> str:
        self.n += 1
        return f"r{self.n}"

    def _close(self, rid: str) -> None:
        if rid in self.open:
            self.open.pop(rid).finish()

    @rule(config=configs)
    def new_run(self, config):
        rid = self._id()
        self.open[rid] = forkpoint.init(project="p", id=rid, config=config, store=self.store, flush_interval=5)
        self.models[rid] = Model(config=copy.deepcopy(config))

    @precondition(lambda self: self.open)
    @rule(data=st.data(), row=rows, jump=st.none() | st.integers(-2, 3), commit=st.booleans())
    def log(self, data, row, jump, commit):
        rid = data.draw(st.sampled_from(sorted(self.open)))
        m = self.models[rid]
        step = None if jump is None else max(0, m.step + jump)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", forkpoint.StepRegressionWarning)
            self.open[rid].log(row, step=step, commit=commit)
        if step is None:
            s = m.step
            if commit:
                m.step += 1
        elif step < m.step:
            return
        else:
            s = m.step = step
        m.rows.setdefault(s, {}).update(row)

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def finish(self, data):
        self._close(data.draw(st.sampled_from(sorted(self.open))))

    @precondition(lambda self: any(m.rows for m in self.models.values()))
    @rule(data=st.data(), config=configs)
    def rewind(self, data, config):
        rid = data.draw(st.sampled_from(sorted(r for r, m in self.models.items() if m.rows)))
        m = self.models[rid]
        n = data.draw(st.integers(0, m.last()))
        self._close(rid)
        self.open[rid] = forkpoint.init(store=self.store, resume_from=f"{rid}?_step={n}", config=config, flush_interval=5)
        m.archived.append(m.history())
        m.rows = {s: r for s, r in m.rows.items() if s <= n}
        m.step = m.start = n + 1
        m.config = merge(m.config, config)
        if m.kind != "fork":
            m.kind, m.parent = "rewind", (f"{rid}~{len(m.archived)}", n)

    @precondition(lambda self: any(m.rows for m in self.models.values()))
    @rule(data=st.data(), config=configs, inherit=st.booleans())
    def fork(self, data, config, inherit):
        pid = data.draw(st.sampled_from(sorted(r for r, m in self.models.items() if m.rows)))
        p = self.models[pid]
        # A live parent's row at its current step is still open (commit=False / same step=): a fork
        # there shares that row as it ends up (documented in branch.fork); the model forks at closed steps.
        top = p.last() if pid not in self.open else min(p.last(), p.step - 1)
        if top < 0:
            return
        n = data.draw(st.integers(0, top))
        rid = self._id()
        self.open[rid] = forkpoint.init(store=self.store, id=rid, fork_from=f"{pid}?_step={n}", config=config,
                                        inherit_config=inherit, flush_interval=5)
        self.models[rid] = Model(rows={s: dict(r) for s, r in p.rows.items() if s <= n}, step=n + 1, start=n + 1,
                                 config=merge(p.config if inherit else {}, config), kind="fork", parent=(pid, n))

    @precondition(lambda self: len(self.open) < len(self.models))
    @rule(data=st.data())
    def resume(self, data):
        rid = data.draw(st.sampled_from(sorted(set(self.models) - set(self.open))))
        m = self.models[rid]
        self.open[rid] = forkpoint.init(store=self.store, id=rid, resume="must", flush_interval=5)
        m.step = max(m.start, (m.last() if m.last() is not None else -1) + 1)
        assert self.open[rid].step == m.step

    @invariant()
    def matches_model(self):
        for run in self.open.values():
            run.flush()
        for rid, m in self.models.items():
            v = self.api.run(rid)
            assert v.history() == m.history(), rid
            assert v.summary == m.summary(), rid
            assert v.config == m.config, rid
            assert v.kind == m.kind, rid
            if m.kind == "fork":
                # the parent named is the branch (the run or one of its archived branches) that
                # holds the fork's inherited rows now: both show the same rows up to its step
                ref, step = v.parent
                assert ref.split("~")[0] == m.parent[0].split("~")[0], rid
                assert step <= m.parent[1], rid
                upto = [r for r in v.history() if r["_step"] <= step]
                assert [r for r in self.api.run(ref).history() if r["_step"] <= step] == upto, rid
            else:
                assert (tuple(v.parent) if v.parent else None) == m.parent, rid
            assert [a.history() for a in v.archived()] == m.archived, rid
            assert v.state == ("running" if rid in self.open else "finished")
            if rid in self.open:
                assert self.open[rid].step == m.step
                assert dict(self.open[rid].summary) == m.summary()


class LineageOnPostgres(Lineage):
    """The same machine on a fresh PostgreSQL schema per example."""

    def make_store(self) -> str:
        from pgschema import postgres_url, with_schema

        self.schema = f"fp_prop_{uuid.uuid4().hex[:12]}"
        return with_schema(postgres_url(), self.schema)

    def drop_store(self) -> None:
        from pgschema import drop_schema

        drop_schema(self.schema)


_settings = dict(stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Lineage.TestCase.settings = settings(max_examples=200, **_settings)
LineageOnPostgres.TestCase.settings = settings(max_examples=60, **_settings)
TestLineageSQLite = Lineage.TestCase
TestLineagePostgres = LineageOnPostgres.TestCase
