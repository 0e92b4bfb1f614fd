"""Opening a store from a path or URL.

``store=`` (or ``FORKPOINT_STORE``) takes a file path, ``sqlite:///<path>`` or
``postgresql://...``. With neither, the store is ``./forkpoint-runs/runs.db`` relative to the
working directory, like MLflow's ``./mlruns`` and W&B's ``./wandb``: nothing to configure. The
folder's name has a hyphen on purpose: it can never be imported as a package, so it cannot shadow
the installed ``forkpoint`` (a ``./forkpoint/`` folder did, for a script run twice in one folder).
"""

from __future__ import annotations

import os

from ..errors import StoreError
from .base import HIDDEN_KEYS, INF_STEP, MAX_STEP, Range, RunRecord, SegmentRecord, Store, WriteState

DEFAULT_PATH = os.path.join("forkpoint-runs", "runs.db")
_open: dict[str, Store] = {}


def resolve_url(store: str | os.PathLike[str] | None) -> str:
    if store is None:
        store = os.environ.get("FORKPOINT_STORE") or DEFAULT_PATH
    store = os.fspath(store)
    if not isinstance(store, str) or not store:
        raise StoreError(f"store {store!r} is not a path or URL: expected a file path, 'sqlite:///<path>' or 'postgresql://...'")
    if store.startswith("sqlite:///"):
        return "sqlite:///" + os.path.abspath(store[len("sqlite:///"):])
    if store.startswith(("postgresql://", "postgres://")):
        return store
    if "://" in store:
        raise StoreError(f"store {store!r} has an unknown scheme: expected a file path, 'sqlite:///<path>' or 'postgresql://...'")
    return "sqlite:///" + os.path.abspath(store)


def open_store(store: str | os.PathLike[str] | Store | None = None, *, create: bool = True) -> Store:
    """The store for ``store``; one object per URL and process, shared by runs and Api.

    ``create=False`` (every read path: ``Api``, the CLI, the UI) refuses a store that does not
    exist with a ``StoreError`` naming it, and creates nothing. This registry owns the store
    objects for the life of the process (their connections are per thread, closed by the thread
    that opened them or by ``close_store``)."""
    if isinstance(store, Store):
        return store
    url = resolve_url(store)
    got = _open.get(url)
    if got is None:
        if url.startswith("sqlite:///"):
            from .sqlite import SQLiteStore

            got = SQLiteStore(url[len("sqlite:///"):], create=create)
        else:
            from .postgres import PostgresStore

            got = PostgresStore(url, create=create)
        _open[url] = got
    return got


def close_store(store: str | os.PathLike[str] | None) -> None:
    """Forget the store object for ``store`` and close this thread's connection (tests, tools)."""
    got = _open.pop(resolve_url(store), None)
    if got is not None:
        got.close()


__all__ = [
    "DEFAULT_PATH",
    "HIDDEN_KEYS",
    "INF_STEP",
    "MAX_STEP",
    "Range",
    "RunRecord",
    "SegmentRecord",
    "Store",
    "WriteState",
    "close_store",
    "open_store",
    "resolve_url",
]
