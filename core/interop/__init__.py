"""Moving runs between forkpoint and other trackers: export (TensorBoard, MLflow, W&B offline,
Parquet/CSV) and import (TensorBoard, MLflow, trackio, W&B offline).

Each peer is imported only when its format is used (``pip install 'forkpoint[interop]'``). Export
reads history in step windows, so memory stays flat however long the run; import derives each run id
from the source's identity, so importing twice does not duplicate. See docs/interop.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..api import Api
from ..store import Store, open_store
from .landing import Landed
from .peers import MissingPeerError
from .units import InteropError, api_of, select

EXPORT_FORMATS = ("tensorboard", "mlflow", "wandb", "parquet", "csv")
IMPORT_FORMATS = ("tensorboard", "mlflow", "trackio", "wandb")


@dataclass
class Exported:
    """What an export wrote (directories, files or MLflow run ids) and what the format could not take."""

    written: list[str]
    notes: list[str] = field(default_factory=list)


def export(api_or_store: Api | Store | str | os.PathLike[str] | None, runs: str | Sequence[str] | None = None, *,
           to: str, dest: str | os.PathLike[str], project: str | None = None, archived: bool = True) -> Exported:
    """Export ``runs`` (refs) or every run of ``project``, with their archived branches, to format
    ``to`` at ``dest`` (a directory; for MLflow a tracking URI or directory). Everything is checked
    before anything is written."""
    if to not in EXPORT_FORMATS:
        raise InteropError(f"export format {to!r} is not one of {', '.join(EXPORT_FORMATS)}")
    if not isinstance(dest, (str, os.PathLike)) or not os.fspath(dest):
        raise InteropError(f"export destination {dest!r} is not a path (or, for mlflow, a tracking URI)")
    dest = os.fspath(dest)
    api = api_of(api_or_store)
    units = select(api, runs, project, archived)
    if to == "tensorboard":
        from . import tensorboard_io
        return Exported(*tensorboard_io.export(units, dest))
    if to == "mlflow":
        from . import mlflow_io
        return Exported(*mlflow_io.export(units, dest))
    if to == "wandb":
        from . import wandb_io
        return Exported(*wandb_io.export(units, dest))
    from . import tables
    return Exported(*tables.export(units, dest, to))


def read_source(fmt: str, source: str | os.PathLike[str], project: str | None = None) -> tuple[list[Any], list[str]]:
    """The runs a source holds (not yet written) and one line per thing the source holds that
    forkpoint cannot take."""
    if fmt not in IMPORT_FORMATS:
        raise InteropError(f"import format {fmt!r} is not one of {', '.join(IMPORT_FORMATS)}")
    if not isinstance(source, (str, os.PathLike)) or not os.fspath(source):
        raise InteropError(f"import source {source!r} is not a path (or, for mlflow, a tracking URI)")
    source = os.fspath(source)
    if fmt == "tensorboard":
        from . import tensorboard_io
        return tensorboard_io.read(source, project)
    if fmt == "mlflow":
        from . import mlflow_io
        return mlflow_io.read(source, project)
    if fmt == "trackio":
        from . import trackio_io
        return trackio_io.read(source, project)
    from . import wandb_io
    return wandb_io.read(source, project)


def import_runs(fmt: str, source: str | os.PathLike[str], store: Store | str | os.PathLike[str] | None = None, *,
                project: str | None = None) -> tuple[list[Landed], list[str]]:
    """Import every run of ``source`` (format ``fmt``) into ``store`` (created if missing). Returns
    what happened to each run and the lines saying what the source holds that forkpoint does not take."""
    from .landing import land

    runs, notes = read_source(fmt, source, project)
    st = open_store(store)
    return land(st, fmt, runs), notes


__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "Exported",
    "InteropError",
    "Landed",
    "MissingPeerError",
    "export",
    "import_runs",
    "read_source",
]
