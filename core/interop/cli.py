"""``forkpoint export`` and ``forkpoint import``. ``add_parsers`` plugs them into the main CLI's
subparsers; ``main`` runs them alone (tests, ``python -m forkpoint.interop.cli``).

    forkpoint export RUN [RUN...] --to FORMAT DEST      forkpoint export --project P --to FORMAT DEST
    forkpoint import FORMAT SOURCE [--project P]

What was written goes to stdout, one line each; what a format cannot hold goes to stderr as one
``note:`` line per kind of data.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from ..api import Api
from ..errors import ForkpointError
from ..store import open_store
from . import EXPORT_FORMATS, IMPORT_FORMATS, export, import_runs


def cmd_export(api: Api, args: argparse.Namespace) -> None:
    fmt, dest = args.to
    if bool(args.runs) == bool(args.project):
        raise ForkpointError("export needs RUN ids or --project P (not both)")
    done = export(api, args.runs or None, project=args.project, to=fmt, dest=dest,
                  archived=not args.no_archived)
    for line in done.written:
        print(line)
    for note in done.notes:
        print(f"note: {note}", file=sys.stderr)


def cmd_import(store: Any, args: argparse.Namespace) -> None:
    landed, notes = import_runs(args.format, args.source, store, project=args.project)
    for got in landed:
        print(f"{got.run_id}\t{got.status}\t{got.rows} rows\t{got.identity}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def add_parsers(sub: Any) -> None:
    """Add ``export`` and ``import`` to an argparse subparsers object, each with ``fn(api, args)``.

    ``import`` writes into a store that may not exist yet, and an ``Api`` refuses a missing store:
    its defaults carry ``creates_store=True`` so the caller builds the ``Api`` on
    ``open_store(url)`` (which creates it) rather than on the URL."""
    s = sub.add_parser("export", help="write runs (and archived branches) as TensorBoard, MLflow, W&B offline, "
                                      "Parquet or CSV")
    s.add_argument("runs", nargs="*", metavar="RUN", help="<id>, <project>/<id> or <id>~k (none with --project)")
    s.add_argument("--project", help="every run of this project")
    s.add_argument("--to", required=True, nargs=2, metavar=("FORMAT", "DEST"),
                   help=f"FORMAT: {', '.join(EXPORT_FORMATS)}; DEST: a directory (mlflow: tracking URI, .db file "
                        "or directory)")
    s.add_argument("--no-archived", action="store_true", help="leave out archived branches")
    s.set_defaults(fn=cmd_export)
    s = sub.add_parser("import", help="read runs from TensorBoard, MLflow, trackio or W&B offline into the store")
    s.add_argument("format", choices=IMPORT_FORMATS)
    s.add_argument("source", metavar="SOURCE",
                   help="event directory, MLflow tracking URI/.db/directory, trackio <project>.db or TRACKIO_DIR, "
                        "W&B offline run directory")
    s.add_argument("--project", help="forkpoint project for the imported runs (default: the source's)")
    s.set_defaults(fn=_import_with_api, creates_store=True)


def _import_with_api(api: Api, args: argparse.Namespace) -> None:
    cmd_import(api.store, args)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="forkpoint", description="Export and import forkpoint runs.")
    p.add_argument("--store", help="store path or URL (default: $FORKPOINT_STORE or ./forkpoint/runs.db)")
    add_parsers(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    try:
        if getattr(args, "creates_store", False):
            cmd_import(open_store(args.store), args)
        else:
            args.fn(Api(args.store), args)
    except ForkpointError as exc:
        print(f"forkpoint: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
