import csv
import io
import json
import subprocess
import sys

import forkpoint
from helpers import linear


def cli(*args):
    return subprocess.run([sys.executable, "-m", "forkpoint", *args], capture_output=True, text=True)


def test_cli_commands(store):
    rid = linear(store, 20)
    with forkpoint.init(store=store, resume_from=f"{rid}?_step=9") as r:
        r.log({"metric": -1, "other": 2})
    with forkpoint.init(store=store, fork_from=f"{rid}?_step=5", id="kid"):
        pass

    out = cli("runs", "--store", store)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["id", "project", "name"] and len(lines) == 3

    show = json.loads(cli("show", rid, "--store", store).stdout)
    assert show["kind"] == "rewind" and show["archived"] == [f"{rid}~1"] and show["children"] == ["kid"]
    assert show["summary"] == {"metric": -1, "other": 2}

    tree = cli("tree", "kid", "--store", store).stdout
    assert f"archived {rid}~1" in tree and "fork kid" in tree and "at _step=5" in tree

    rows = list(csv.reader(io.StringIO(cli("history", rid, "--store", store, "--keys", "metric,other").stdout)))
    assert rows[0] == ["_step", "metric", "other"] and rows[-1] == ["10", "-1", "2"] and len(rows) == 12

    js = json.loads(cli("history", "kid", "--store", store, "--format", "json").stdout)
    assert isinstance(js, list) and len(js) == 6 and js[-1] == {"_step": 5, "metric": 5}
    lines = cli("history", "kid", "--store", store, "--format", "jsonl").stdout.splitlines()
    assert [json.loads(x) for x in lines] == js


def test_cli_errors_are_clear_and_nonzero(store):
    linear(store, 2)
    out = cli("show", "nosuch", "--store", store)
    assert out.returncode == 1 and "run 'nosuch' not found" in out.stderr and out.stdout == ""
    out = cli("history", "bad id", "--store", store)
    assert out.returncode == 1 and "not a run id" in out.stderr
    out = cli("bogus")
    assert out.returncode == 2
