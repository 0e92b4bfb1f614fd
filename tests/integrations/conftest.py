"""Marks for the plugin tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "multiprocess: starts several training processes (DDP, ddp_spawn, torchrun); select with "
                   "-m multiprocess, skip with -m 'not multiprocess'")
