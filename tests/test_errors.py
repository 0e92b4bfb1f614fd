import forkpoint
import pytest
from helpers import linear


@pytest.mark.parametrize("kwargs, exc, fragment", [
    (dict(resume_from="a?_step=1", fork_from="a?_step=1"), forkpoint.UsageError, "exclusive"),
    (dict(resume="allow", fork_from="a?_step=1"), forkpoint.UsageError, "cannot be combined with fork_from"),
    (dict(resume="allow", resume_from="a?_step=1"), forkpoint.UsageError, "cannot be combined with resume_from"),
    (dict(id="b", resume_from="a?_step=1"), forkpoint.UsageError, "differs from the run"),
    (dict(id="a", fork_from="a?_step=1"), forkpoint.UsageError, "is the run being forked"),
    (dict(resume="sometimes"), forkpoint.UsageError, "expected None, 'allow'"),
    (dict(on_step_regression="ignore"), forkpoint.UsageError, "expected 'warn' or 'raise'"),
    (dict(flush_interval=-1), forkpoint.UsageError, "flush_interval=-1"),
    (dict(id="bad id!"), forkpoint.SpecError, "not a valid run id"),
    (dict(project="bad/project"), forkpoint.SpecError, "not a valid project"),
    (dict(tags="x"), forkpoint.UsageError, "not a list of str"),
    (dict(fork_from=123), forkpoint.UsageError, "is not a run spec"),
    (dict(fork_from="a?_step=-1"), forkpoint.SpecError, "not a non-negative integer"),
    (dict(resume_from="nosuch?_step=1"), forkpoint.RunNotFoundError, "'nosuch' not found"),
    (dict(resume_from="a~1?_step=1"), forkpoint.UsageError, "archived branch"),
])
def test_bad_init_arguments(store, api, kwargs, exc, fragment):
    with pytest.raises(exc, match=fragment) as info:
        forkpoint.init(store=store, **kwargs)
    assert isinstance(info.value, forkpoint.ForkpointError)
    assert api.runs() == []


def test_error_hierarchy():
    assert issubclass(forkpoint.RunNotFoundError, LookupError)
    for cls in (forkpoint.SpecError, forkpoint.StepError, forkpoint.UsageError):
        assert issubclass(cls, ValueError) and issubclass(cls, forkpoint.ForkpointError)


def test_api_bad_ids(store, api):
    linear(store, 2, id="here")
    with pytest.raises(LookupError):
        api.run("missing")
    with pytest.raises(forkpoint.SpecError):
        api.run("bad id")
    with pytest.raises(forkpoint.RunNotFoundError, match="archived branches: none"):
        api.run("here~1")


def test_bad_store_url():
    with pytest.raises(forkpoint.StoreError, match="unknown scheme"):
        forkpoint.Api("mysql://x/y")


def test_store_from_newer_forkpoint_is_refused(tmp_path):
    import sqlite3

    path = tmp_path / "s.db"
    forkpoint.init(project="p", store=str(path)).finish()
    sqlite3.connect(path).execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'").connection.commit()
    from forkpoint.store.sqlite import SQLiteStore

    with pytest.raises(forkpoint.StoreError, match="schema version 99, newer"):
        SQLiteStore(str(path))


def test_default_store_location(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with forkpoint.init() as run:
        run.log({"a": 1})
    assert (tmp_path / "forkpoint-runs" / "runs.db").exists()
    monkeypatch.setenv("FORKPOINT_STORE", str(tmp_path / "env.db"))
    with forkpoint.init():
        pass
    assert (tmp_path / "env.db").exists()
    assert run.project == "default"


def test_a_second_process_in_the_same_folder_imports_the_real_package(tmp_path):
    """The default store folder must never shadow the installed package (it once did)."""
    import subprocess
    import sys

    code = "import forkpoint; r = forkpoint.init(); r.log({'a': 1}); r.finish(); print(forkpoint.__file__)"
    for _ in range(2):
        got = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
        assert got.returncode == 0, got.stderr
        assert "forkpoint-runs" not in got.stdout and got.stdout.strip().endswith("__init__.py")
    assert "forkpoint: run " in got.stderr and " ui --store " in got.stderr  # the one line init prints


def test_init_line_is_quiet_on_request(tmp_path, capsys):
    forkpoint.init(project="p", store=str(tmp_path / "s.db"), quiet=True).finish()
    assert "forkpoint: run" not in capsys.readouterr().err
    forkpoint.init(project="p", store=str(tmp_path / "s.db")).finish()
    line = capsys.readouterr().err
    assert "forkpoint: run" in line and str(tmp_path / "s.db") in line
