"""The store going away or filling up: PostgreSQL backends terminated while idle or busy, a full
disk, a read-only store, corrupt input (docs/guarantees.md)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import forkpoint
import pytest
from forkpoint import writer
from forkpoint.store import open_store

pytestmark = pytest.mark.timeout(180)


def _terminate_backends(url: str) -> int:
    import psycopg

    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        return conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                            "AND backend_type = 'client backend'").fetchone()[0]


def test_postgres_connections_dropped_while_idle(pg_url):
    run = forkpoint.init(project="p", id="idle", store=pg_url, flush_interval=60)
    run.log({"a": 1})
    run.flush()
    api = forkpoint.Api(pg_url)
    assert [v.id for v in api.runs("p")] == ["idle"]
    assert _terminate_backends(pg_url) >= 1
    run.log({"a": 2})
    run.flush()  # the main thread's connection was dropped while idle: reconnect, no AdminShutdown
    assert [v.id for v in api.runs("p")] == ["idle"]  # the reader's too
    assert _terminate_backends(pg_url) >= 1
    with forkpoint.init(project="p", store=pg_url) as other:  # init after an idle drop
        other.log({"b": 1})
    run.finish()
    assert [r["a"] for r in api.run("idle").history()] == [1, 2]


def test_postgres_key_ids_with_backends_terminated(pg_url):
    """8 runs in threads of one process, each with new key names, while backends are terminated."""
    stop = threading.Event()

    def killer():
        while not stop.is_set():
            _terminate_backends(pg_url)
            time.sleep(0.05)

    runs = [forkpoint.init(project="p", id=f"t{n}", store=pg_url, flush_interval=0.01) for n in range(8)]

    def work(n: int):
        run = runs[n]
        for i in range(300):
            run.log({f"t{n}/k{i // 10}": i, "shared": i})
        for _ in range(200):
            try:
                run.finish()
                return
            except forkpoint.StoreError:
                time.sleep(0.05)

    k = threading.Thread(target=killer)
    k.start()
    time.sleep(0.1)
    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    k.join()
    st = open_store(pg_url)
    missing = st._x("SELECT count(*) FROM blocks b LEFT JOIN keys k ON k.id = b.key WHERE k.id IS NULL").fetchone()[0]
    assert missing == 0
    api = forkpoint.Api(pg_url)
    for n in range(8):
        assert [r["shared"] for r in api.run(f"t{n}").history()] == list(range(300))


@pytest.fixture
def full_disk(tmp_path: Path):
    """A real 2 MiB filesystem (tmpfs) that the test can fill up."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def test_full_disk_keeps_rows_queued_counts_in_flight_and_recovers(full_disk, monkeypatch, caplog):
    monkeypatch.setattr(writer, "MAX_PENDING", 5000)
    store = str(full_disk / "runs.db")
    run = forkpoint.init(project="p", id="d", store=store, flush_interval=0.05)
    run.log({"a": -1})
    run.flush()
    filler = full_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    for size in (65536, 4096, 512, 1):  # fill the disk to the last byte
        try:
            while True:
                os.write(fd, b"\0" * size)
        except OSError:
            pass
    os.close(fd)
    accepted = 0
    with pytest.raises(forkpoint.StoreError, match="none was dropped"):
        for i in range(20000):
            run.log({"a": i, "pad": "x" * 200})
            accepted += 1
            if i == 100:
                with pytest.raises(forkpoint.StoreError, match="still queued") as got:
                    run.flush()  # a clear error, not a raw sqlite3.OperationalError
                assert "full" in str(got.value)
    assert run.pending <= 5000 and accepted <= 5000
    assert any("failed" in r.message and "full" in r.message for r in caplog.records)  # said once, with the cause
    filler.unlink()
    run.finish()  # the disk has room again: everything queued is written
    assert any("works again" in r.message for r in caplog.records)
    rows = forkpoint.Api(store).run("d").history(keys=["a"])
    assert [r["a"] for r in rows] == list(range(-1, accepted))


def test_read_only_store_can_be_listed_and_read(full_disk):
    """A store on a read-only mount: reads work and nothing is written (not even -shm)."""
    store = str(full_disk / "runs.db")
    with forkpoint.init(project="p", id="r", store=store) as run:
        for i in range(10):
            run.log({"a": i})
    from forkpoint.store import close_store

    close_store(store)
    r = subprocess.run(["mount", "-o", "remount,ro", str(full_disk)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    before = sorted(os.listdir(full_disk))
    api = forkpoint.Api(store)
    assert [v.id for v in api.runs()] == ["r"] and len(api.run("r").history()) == 10
    assert sorted(os.listdir(full_disk)) == before


@pytest.mark.parametrize("bad", ["run\n", "a/b", "a?b", "a#b", "a%b", "a:b", "a~1", "tab\there"])
def test_run_ids_that_would_be_unreachable_are_refused(tmp_path, bad):
    with pytest.raises(forkpoint.SpecError, match="not a valid run id"):
        forkpoint.init(project="p", id=bad, store=str(tmp_path / "s.db"))
    assert not (tmp_path / "s.db").exists()


def test_projects_with_newlines_and_huge_steps_in_specs_are_refused(tmp_path):
    with pytest.raises(forkpoint.SpecError, match="project"):
        forkpoint.init(project="p\n", store=str(tmp_path / "s.db"))
    with pytest.raises(forkpoint.SpecError, match="_step"):
        forkpoint.RunSpec.parse("r?_step=" + "9" * 5000)
    assert not (tmp_path / "s.db").exists()


def test_corrupt_store_is_a_clear_error(tmp_path):
    path = tmp_path / "runs.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(forkpoint.StoreError, match="runs.db"):
        forkpoint.Api(str(path))
    path.write_text("not a database\n" * 100)
    with pytest.raises(forkpoint.StoreError, match="runs.db"):
        forkpoint.init(project="p", store=str(path))
