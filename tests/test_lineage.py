import forkpoint
from helpers import linear


def test_lineage_tree(store, api):
    rid = linear(store, 30)
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=10") as a:
        a.log({"metric": 1})
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=20"):
        pass
    with forkpoint.init(store=store, fork_from=f"{a.id}?_step=11") as b:
        pass
    root = api.run(rid)
    assert root.kind == "rewind" and root.parent == (f"{rid}~1", 20)
    assert [c.id for c in root.children()] == [a.id]
    assert [x.id for x in root.archived()] == [f"{rid}~1"]
    assert api.run(b.id).ancestors() == [(a.id, 11), (rid, 10), (f"{rid}~1", 20)]
    assert api.run(a.id).kind == "fork" and api.run(a.id).branch_step == 10


def test_runs_listing_by_project(store, api):
    linear(store, 2, project="p1")
    linear(store, 2, project="p2")
    assert [r.project for r in api.runs("p1")] == ["p1"]
    assert len(api.runs()) == 2
    assert api.run(f"p2/{api.runs('p2')[0].id}").project == "p2"


def test_history_keys_filter_and_df(store, api):
    with forkpoint.init(store=store) as run:
        run.log({"a": 1, "b": 2})
        run.log({"b": 3})
        run.log({"c": 4})
    v = api.run(run.id)
    assert v.history(keys=["a"]) == [{"_step": 0, "a": 1}]
    assert v.history(keys=["a", "b"]) == [{"_step": 0, "a": 1, "b": 2}, {"_step": 1, "b": 3}]
    assert v.history(keys=["zzz"]) == []
    df = v.history_df()
    assert list(df.columns) == ["_step", "a", "b", "c"] and len(df) == 3


def _tree(api, ref):
    return [(e.depth, e.relation, e.view.id) for e in api.run(ref).root().tree()]


def test_fork_follows_its_prefix_into_the_archived_branch_after_a_rewind(store, api, capsys):
    """Fork F at 150 of P, rewind P to 100: F's rows <= 150 live in P~1 now, so F's parent is
    P~1 (RunView, Run, children, the CLI tree, the UI); a fork at 50 still belongs to P."""
    from forkpoint.cli import main
    from forkpoint.ui.views import run_detail

    pid = linear(store, 300)
    with forkpoint.init(store=store, fork_from=f"{pid}?_step=150", id="late", quiet=True) as late:
        late.log({"metric": -1})
    with forkpoint.init(store=store, fork_from=f"{pid}?_step=50", id="early", quiet=True):
        pass
    assert api.run("late").parent == (pid, 150) and late.parent == (pid, 150)
    with forkpoint.init(store=store, resume_from=f"{pid}?_step=100", quiet=True) as p:
        p.log({"metric": 1000})
    assert api.run("late").parent == (f"{pid}~1", 150) and late.parent == (f"{pid}~1", 150)
    assert str(api.run("late").parent) == f"{pid}~1?_step=150"
    assert api.run("early").parent == (pid, 50)
    assert [c.id for c in api.run(pid).children()] == ["early"]
    assert [c.id for c in api.run(f"{pid}~1").children()] == ["late"]
    assert api.run("late").ancestors() == [(f"{pid}~1", 150)]
    # what F shows is what P~1 holds, not what P holds now
    assert api.run("late").history()[101]["metric"] == api.run(f"{pid}~1").history()[101]["metric"] == 101
    assert api.run(pid).history()[101]["metric"] == 1000
    assert _tree(api, "late") == [(0, "root", pid), (1, "archived", f"{pid}~1"), (2, "fork", "late"),
                                  (1, "fork", "early")]
    assert str(api.run(f"{pid}~1").span()) == "own steps 0..299"

    assert main(["--store", store, "tree", "late"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{pid} [finished] rewind last_step=101 (rewound at _step=100)",
        f"|-- archived {pid}~1 [archived] own steps 0..299",
        "|   `-- fork late [finished] at _step=150  <-",
        "`-- fork early [finished] at _step=50",
    ]
    detail = run_detail(api, "late")
    assert detail["parent"] == f"{pid}~1?_step=150" and detail["ancestors"] == [f"{pid}~1?_step=150"]
    assert [(n["id"], n["depth"]) for n in detail["tree"]] == [(pid, 0), (f"{pid}~1", 1), ("late", 2), ("early", 1)]


def test_fork_parent_after_several_rewinds_and_of_an_archived_branch(store, api):
    """Each rewind keeps the older prefix, so several archived branches can show a fork's rows: the
    one that was the head when the fork was made is named. A fork made from P~k keeps P~k."""
    pid = linear(store, 300)
    with forkpoint.init(store=store, resume_from=f"{pid}?_step=199", quiet=True) as p:  # P~1: 0..299
        for i in range(200, 260):
            p.log({"metric": -i}, step=i)
    with forkpoint.init(store=store, fork_from=f"{pid}?_step=150", id="f", quiet=True):  # head: P~1 0..199 + own
        pass
    with forkpoint.init(store=store, fork_from=f"{pid}~1?_step=120", id="g", quiet=True):
        pass
    with forkpoint.init(store=store, resume_from=f"{pid}?_step=100", quiet=True):  # P~2: the head f saw
        pass
    assert api.run("f").parent == (f"{pid}~2", 150)  # P~1 shows the same rows; P~2 is what f forked
    assert api.run("g").parent == (f"{pid}~1", 120)
    assert str(api.run(f"{pid}~2").span()) == f"steps <= 199 from {pid}~1, own steps 200..259"
    assert [c.id for c in api.run(f"{pid}~2").children()] == ["f"]
    assert [c.id for c in api.run(f"{pid}~1").children()] == ["g"]
    assert api.run(pid).children() == []


def test_fork_of_a_fork_with_the_prefix_in_the_grandparent(store, api):
    """P forked from G at 100; F forked from P at 50 reads G's rows through P. Rewinding P to 20
    moves them out of P's head: F's parent becomes P~1 (which still shows them), not G."""
    gid = linear(store, 200)
    with forkpoint.init(store=store, fork_from=f"{gid}?_step=100", id="p", quiet=True) as p:
        p.log({"metric": 0.5})
    with forkpoint.init(store=store, fork_from="p?_step=50", id="f", quiet=True):
        pass
    assert api.run("f").parent == ("p", 50)
    with forkpoint.init(store=store, resume_from="p?_step=20", quiet=True):
        pass
    assert api.run("f").parent == ("p~1", 50)
    assert api.run("p").parent == (gid, 20) and api.run("p").kind == "fork"  # rewound below its fork step
    assert [c.id for c in api.run("p~1").children()] == ["f"] and api.run("p").children() == []
    assert [(e.depth, e.view.id) for e in api.run("f").root().tree()] == [
        (0, gid), (1, "p"), (2, "p~1"), (3, "f")]


def test_chains_of_many_segments_equal_each_chain(store):
    """lineage.chains (one walk for many branches: the UI, gc) gives exactly lineage.chain for every
    segment: forks of forks, rewinds of forks, a fork of an archived branch, asked children first."""
    from forkpoint import lineage
    from forkpoint.store import open_store

    with forkpoint.init(store=store, id="p", quiet=True) as p:
        for i in range(100):
            p.log({"x": float(i)})
    with forkpoint.init(store=store, fork_from="p?_step=60", id="f", quiet=True) as f:
        for i in range(61, 90):
            f.log({"x": -1.0}, step=i)
    with forkpoint.init(store=store, fork_from="f?_step=70", id="ff", quiet=True) as ff:
        ff.log({"x": 2.0}, step=71)
    with forkpoint.init(store=store, resume_from="p?_step=40", quiet=True) as r:  # f's prefix now in p~1
        r.log({"x": 3.0}, step=41)
    with forkpoint.init(store=store, resume_from="f?_step=65", quiet=True) as r:  # ff's prefix in f~1
        r.log({"x": 4.0}, step=66)
    with forkpoint.init(store=store, fork_from="p~1?_step=80", id="fa", quiet=True):
        pass
    st = open_store(store)
    segs = [s.id for rec in st.list_runs() for s in st.run_segments(rec.id)]
    assert len(segs) == 6  # p, p~1, f, f~1, ff, fa
    for order in (segs, segs[::-1]):
        assert lineage.chains(st, order) == {s: lineage.chain(st, s) for s in segs}
