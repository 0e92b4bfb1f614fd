"""PostgreSQL only: lost connections and an unreachable server. The rest of the semantics suite
runs on PostgreSQL through the parametrised ``store`` fixture."""

from __future__ import annotations

import threading
import time

import forkpoint
import pytest
from forkpoint import writer
from forkpoint.store import open_store
from pgschema import postgres_store, postgres_url, with_schema


@pytest.fixture
def pg_store():
    yield from postgres_store()


def test_url_schema_must_be_an_identifier():
    with pytest.raises(forkpoint.StoreError, match="not a plain identifier"):
        forkpoint.Api(with_schema(postgres_url(), "bad-name;drop"))


def test_terminated_connections_lose_and_duplicate_nothing(pg_store):
    import psycopg

    run = forkpoint.init(project="pg", store=pg_store, flush_interval=0.01)
    stop = threading.Event()
    kills = []

    def killer():
        with psycopg.connect(postgres_url(), autocommit=True) as admin:
            while not stop.is_set():
                got = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ''"
                    " AND backend_type = 'client backend'").fetchall()
                kills.append(len(got))
                time.sleep(0.03)

    t = threading.Thread(target=killer)
    t.start()
    try:
        for i in range(6000):
            run.log({"i": i, "x": i * 0.5})
            if i % 500 == 0:
                time.sleep(0.02)
    finally:
        stop.set()
        t.join()
    run.finish()
    assert sum(kills) > 3, kills  # connections really were terminated during logging
    v = forkpoint.Api(pg_store).run(run.id)
    assert [r["i"] for r in v.history()] == list(range(6000))
    assert open_store(pg_store)._x("SELECT SUM(n) FROM blocks").fetchone()[0] == 18000  # exactly once (i, x, _timestamp)
    assert v.state == "finished"


def test_unreachable_server_buffers_up_to_the_limit_then_fails_loudly(pg_store, monkeypatch):
    monkeypatch.setattr(writer, "MAX_PENDING", 200)
    run = forkpoint.init(project="pg", store=pg_store, flush_interval=0.01)
    st = open_store(pg_store)
    good = st._conninfo
    st._conninfo = good.replace(":5432", ":1")  # the "server" goes away
    run._writer.store.close()
    time.sleep(0.05)
    for i in range(200):
        run.log({"i": i})
    with pytest.raises(forkpoint.StoreError, match="200 rows are waiting.*this row was not taken, none was dropped"):
        run.log({"i": 200})
    with pytest.raises(forkpoint.StoreError, match="200 logged rows could not be written"):
        run._writer.close(retry_for=0.3)
    st._conninfo = good  # the server is back
    run.finish()
    assert [r["i"] for r in forkpoint.Api(pg_store).run(run.id).history()] == list(range(200))
