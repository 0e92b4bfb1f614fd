"""Child processes for the fault tests: child Python processes that log into a store, real signals."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def child(code: str, *args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    """Start ``python -c code args...`` with forkpoint importable; stdout is a pipe (line-buffered)."""
    e = {**os.environ, "PYTHONUNBUFFERED": "1", "FORKPOINT_QUIET": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=e, **kw)


def run_child(code: str, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    p = child(code, *args, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"child hung for {timeout} s (killed); stderr:\n{err[-3000:]}")
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)

