"""Console output, system metrics and artifacts follow rewind and fork like metrics (SEMANTICS)."""

import subprocess
import sys
import textwrap
import time

import forkpoint
import pytest


def test_artifacts_follow_rewind_and_fork(store, api, tmp_path):
    ckpt = tmp_path / "model.pt"
    with forkpoint.init(store=store) as run:
        for i in range(20):
            if i in (5, 15):
                ckpt.write_bytes(b"weights at %d" % i)
                run.log_artifact(str(ckpt), name="model")
            run.log({"m": i})
    assert api.run(run.id).artifacts()["model"]["step"] == 15
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=10"):
        pass
    v = api.run(run.id)
    art = v.artifacts()["model"]
    assert art["step"] == 5 and art["size"] == len(b"weights at 5") and len(art["sha256"]) == 64
    assert v.archived()[0].artifacts()["model"]["step"] == 15  # still there, in the archived branch
    with forkpoint.init(store=store, fork_from=f"{run.id}?_step=7") as f:
        assert dict(f.summary)["artifact/model"].count("sha256") == 1
    assert api.run(f.id).artifacts()["model"]["step"] == 5
    with pytest.raises(FileNotFoundError, match="is not a file"):
        with forkpoint.init(store=store) as r:
            r.log_artifact(str(tmp_path / "missing"))


CONSOLE = textwrap.dedent("""
    import sys, forkpoint
    with forkpoint.init(id="con", store=sys.argv[1], capture_console=True) as run:
        for i in range(6):
            print(f"line {i}")
            print(f"warn {i}", file=sys.stderr)
            run.log({"m": i})
""")


def test_console_output_follows_rewind(store, api):
    out = subprocess.run([sys.executable, "-c", CONSOLE, store], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"line {i}" for i in range(6)]  # the terminal still gets everything
    v = api.run("con")
    assert v.console() == "".join(f"line {i}\n" for i in range(6))
    assert v.console("stderr").startswith("warn 0\n")
    with forkpoint.init(store=store, resume_from="con?_step=2"):
        pass
    v = api.run("con")
    assert v.console() == "line 0\nline 1\nline 2\n"
    assert v.archived()[0].console().endswith("line 5\n")


def test_system_metrics_follow_rewind(store, api):
    with forkpoint.init(store=store, system_metrics=0.02) as run:
        for i in range(8):
            run.log({"m": i})
            time.sleep(0.06)
    h = api.run(run.id).history(keys=["sys/rss_mb"])
    assert len(h) >= 3 and all(r["sys/rss_mb"] > 1 for r in h)
    assert "sys/cpu_percent" in api.run(run.id).summary
    with forkpoint.init(store=store, resume_from=f"{run.id}?_step=3"):
        pass
    assert all(r["_step"] <= 3 for r in api.run(run.id).history(keys=["sys/rss_mb"]))
    assert any(r["_step"] > 3 for r in api.run(f"{run.id}~1").history(keys=["sys/rss_mb"]))
    with pytest.raises(forkpoint.UsageError, match="system_metrics=0"):
        forkpoint.init(store=store, system_metrics=0)
