"""The CLI with hostile names, on a real terminal (a pty) and through pipes, and against stores that
are missing or corrupt: escaped output, clear errors naming the store, nothing created, no
traceback."""

from __future__ import annotations

import json
import math
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import forkpoint
import pytest
from forkpoint.cli import main, printable
from forkpoint.store import close_store

TITLE = "\x1b]0;pwn\x07"  # sets the terminal's title
CLEAR = "\x1b[2J"  # clears the screen
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "forkpoint", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def on_a_terminal(*args: str) -> str:
    """Run the CLI with stdout on a real pseudo-terminal; returns what the terminal received."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "forkpoint", *args], stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
    return out.decode().replace("\r\n", "\n")


@pytest.fixture
def hostile(store):
    """A run whose name, tags and a key hold escape sequences, and a fork whose id holds a C1 CSI
    and a right-to-left override (both allowed in W&B-style ids)."""
    with forkpoint.init(store=store, project="esc", id="base", name=TITLE + "name" + CLEAR, tags=[CLEAR, "ok"],
                        quiet=True) as run:
        for i in range(3):
            run.log({"loss": 1.0 / (i + 1), "k" + CLEAR: i})
    kid = "kid\x9b2J\u202eevil"
    with forkpoint.init(store=store, project="esc", id=kid, fork_from="base?_step=1", name="fine", quiet=True) as k:
        k.log({"loss": 0.25})
    return store, kid


def test_printable_escapes_control_and_bidi_characters():
    assert printable(TITLE) == "\\x1b]0;pwn\\x07"
    assert printable("a\tb\nc\r\x9b\u202e\x7f") == "a\\tb\\nc\\r\\x9b\\u202e\\x7f"
    assert printable("plain ünïcödé 名前 <b>") == "plain ünïcödé 名前 <b>" and printable(None) == ""


def test_every_text_command_escapes_hostile_names(hostile, capsys):
    store, kid = hostile
    outputs = {}
    for args in (["runs"], ["tree", kid], ["show", kid], ["show", "base"], ["history", "base"],
                 ["history", kid, "--format", "json"], ["history", kid, "--format", "jsonl"],
                 ["history", "base", "--keys", "nosuch" + CLEAR]):
        assert main(["--store", store, *args]) == 0, args
        got = capsys.readouterr()
        outputs[" ".join(args)] = got
    for args, got in outputs.items():
        piped_csv = args.startswith("history base")  # CSV into a pipe stays byte-exact (see below)
        for raw in RAW:
            assert (piped_csv or raw not in got.out) and raw not in got.err, (args, raw)
    assert "\\x1b]0;pwn\\x07name\\x1b[2J" in outputs["runs"].out and "\\x1b[2J,ok" in outputs["runs"].out
    assert "fork kid\\x9b2J\\u202eevil [finished] at _step=1" in outputs[f"tree {kid}"].out
    assert json.loads(outputs["show base"].out)["name"] == TITLE + "name" + CLEAR  # JSON escapes by itself
    assert "'nosuch\\x1b[2J'" in outputs["history base --keys nosuch" + CLEAR].err
    # piped CSV keeps the key exactly as logged: it is data for another program
    assert outputs["history base"].out.splitlines()[0] == "_step,k" + CLEAR + ",loss"


def test_errors_escape_what_the_user_typed(hostile):
    store, _ = hostile
    out = cli("--store", store, "show", "nosuch\x9b2J")
    assert out.returncode == 1 and "\x9b" not in out.stderr and "nosuch\\x9b2J" in out.stderr


def test_runs_is_aligned_on_a_terminal_and_tab_separated_in_a_pipe(hostile):
    store, kid = hostile
    piped = cli("--store", store, "runs")
    rows = [line.split("\t") for line in piped.stdout.splitlines()]
    assert rows[0] == ["id", "project", "name", "state", "kind", "last_step", "parent", "created", "tags"]
    assert {len(r) for r in rows} == {9} and [r[0] for r in rows[1:]] == ["base", printable(kid)]

    shown = on_a_terminal("--store", store, "runs")
    lines = shown.splitlines()
    assert "\t" not in shown and len(lines) == 3 and not any(raw in shown for raw in RAW)
    starts = [lines[0].index(col) for col in ("project", "name", "state", "kind")]
    assert starts[0] > 0 and lines[1].index("esc") == lines[2].index("esc") == starts[0]
    assert lines[1].index("finished") == lines[2].index("finished") == starts[2]
    assert lines[2].startswith(printable(kid) + " ")


def test_history_formats_and_notes(store, capsys):
    with forkpoint.init(store=store, id="h", quiet=True) as run:
        run.log({"a": 1.5, "b": float("nan")})
        run.log({"a": math.inf})
    with forkpoint.init(store=store, id="f", fork_from="h?_step=1", quiet=True):
        pass
    assert main(["--store", store, "history", "h"]) == 0
    assert capsys.readouterr().out.splitlines() == ["_step,a,b", "0,1.5,nan", "1,inf,"]
    assert main(["--store", store, "history", "h", "--format", "json"]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out) == [{"_step": 0, "a": 1.5, "b": None}, {"_step": 1, "a": None}]
    assert "2 NaN/infinite values written as null" in got.err
    assert main(["--store", store, "history", "h", "--format", "jsonl", "--keys", "a"]) == 0
    assert [json.loads(x) for x in capsys.readouterr().out.splitlines()] == [{"_step": 0, "a": 1.5}, {"_step": 1, "a": None}]

    assert main(["--store", store, "history", "h", "--keys", "a,zz,yy"]) == 0
    got = capsys.readouterr()
    assert "warning: run 'h' has no rows with 'zz', 'yy'; its keys are: a, b" in got.err
    assert got.out.splitlines()[0] == "_step,a,zz,yy"

    assert main(["--store", store, "history", "f", "--own-only"]) == 0
    got = capsys.readouterr()
    assert got.out == "_step\n" and "run 'f' has no rows of its own" in got.err and "h?_step=1" in got.err
    assert main(["--store", store, "history", "f"]) == 0
    assert capsys.readouterr().err == ""


def _absent(paths: list[Path]) -> None:
    for p in paths:
        assert not p.exists(), p


def test_reads_never_create_a_store(tmp_path):
    missing = tmp_path / "nowhere" / "x.db"
    for args in (["runs"], ["show", "r"], ["tree", "r"], ["history", "r"], ["ui", "--port", "0"]):
        for spec in (str(missing), f"sqlite:///{missing}"):
            out = cli("--store", spec, *args)
            assert out.returncode == 1, (args, out)
            assert out.stderr.startswith("forkpoint: error: store ") and str(missing) in out.stderr
            assert "does not exist" in out.stderr and "Traceback" not in out.stderr and out.stdout == ""
    _absent([missing, missing.parent])
    out = cli("--store", "/nonexistent/x.db", "runs")
    assert out.returncode == 1 and "'/nonexistent/x.db' does not exist" in out.stderr
    _absent([Path("/nonexistent")])
    out = cli("runs", env={"FORKPOINT_STORE": str(missing)})
    assert out.returncode == 1 and str(missing) in out.stderr
    _absent([missing.parent])


def test_reads_never_create_a_postgres_schema(pg_url, capsys):
    """``pg_url`` names a fresh schema that nothing has created yet: a read must not create it."""
    import psycopg

    schema = pg_url.rsplit("schema=", 1)[1]
    assert main(["--store", pg_url, "runs"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("forkpoint: error: store ") and schema in err
    with psycopg.connect(pg_url.split("?")[0]) as conn:
        assert conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                            (schema,)).fetchone() is None


def _real_store(path: Path) -> None:
    url = f"sqlite:///{path}"
    for n in range(40):
        with forkpoint.init(store=url, id=f"r{n}", name="x" * 500, quiet=True) as run:
            for i in range(50):
                run.log({"loss": float(i), "acc": float(n)})
    close_store(url)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every row in the main file, which stays in WAL mode
    con.close()


def _corrupt(kind: str, path: Path) -> None:
    if kind == "random bytes":
        path.write_bytes(os.urandom(64 * 1024))
    elif kind == "text file":
        path.write_text("id,loss\n1,0.5\n")
    elif kind == "empty file":
        path.write_bytes(b"")
    elif kind == "another app's database":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE notes (body TEXT)")
        con.commit()
        con.close()
    elif kind == "pages overwritten":
        _real_store(path)
        data = bytearray(path.read_bytes())
        page = 4096
        data[page:] = os.urandom(len(data) - page)  # the schema page survives, every table is garbage
        path.write_bytes(bytes(data))
    elif kind == "bad text in a row":
        _real_store(path)
        con = sqlite3.connect(path)
        con.execute("UPDATE runs SET tags = 'not json', name = CAST(X'FFFE' AS TEXT) WHERE id = 'r3'")
        con.commit()
        con.close()
    else:
        raise AssertionError(kind)


KINDS = ["random bytes", "text file", "empty file", "another app's database", "pages overwritten", "bad text in a row"]
REWRITTEN_ON_READ = pytest.mark.xfail(strict=True, reason=(
    "store layer (not the CLI): SQLiteStore(create=False) runs PRAGMA journal_mode=WAL on connect, which "
    "rewrites an empty file into a database and switches another program's database to WAL before the "
    "forkpoint tables are checked; reported to the lead"))


@pytest.mark.parametrize("kind", KINDS)
def test_a_corrupt_store_is_a_clear_error_not_a_traceback(tmp_path, kind):
    path = tmp_path / "runs.db"
    _corrupt(kind, path)
    for args in (["runs"], ["show", "r3"], ["tree", "r3"], ["history", "r3"]):
        out = cli("--store", str(path), *args)
        assert out.returncode == 1, (kind, args, out.stdout[:200], out.stderr)
        assert out.stderr.startswith("forkpoint: error: store ") and str(path) in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr


@pytest.mark.parametrize("kind", [k if k not in ("empty file", "another app's database")
                                  else pytest.param(k, marks=REWRITTEN_ON_READ) for k in KINDS])
def test_reading_a_bad_store_file_changes_nothing_in_it(tmp_path, kind, capsys):
    path = tmp_path / "runs.db"
    _corrupt(kind, path)
    before = path.read_bytes()
    assert main(["--store", str(path), "runs"]) == 1
    assert "forkpoint: error: store" in capsys.readouterr().err
    assert path.read_bytes() == before
