"""``forkpoint`` command line: runs, show, tree, history. Output is plain text, CSV or JSON so it
pipes into other tools; errors go to stderr with exit status 1 (2 for bad usage, from argparse).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from typing import Any, Sequence

from .api import Api, RunView
from .errors import ForkpointError


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


def cmd_runs(api: Api, args: argparse.Namespace) -> None:
    out = sys.stdout
    out.write("id\tproject\tname\tstate\tkind\tlast_step\tparent\tcreated\n")
    for r in api.runs(args.project):
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(r.created_at))
        out.write("\t".join([r.id, r.project, r.name or "", r.state, r.kind, _fmt(r.last_step),
                             str(r.parent or ""), created]) + "\n")


def cmd_show(api: Api, args: argparse.Namespace) -> None:
    r = api.run(args.run)
    info = {
        "id": r.id, "project": r.project, "name": r.name, "state": r.state, "kind": r.kind,
        "parent": str(r.parent) if r.parent else None, "last_step": r.last_step, "tags": r.tags,
        "notes": r.notes, "dropped_steps": r.dropped_steps, "config": r.config,
        "config_changes": r.config_changes, "summary": r.summary,
        "archived": [a.id for a in r.archived()], "children": [c.id for c in r.children()],
    }
    json.dump(info, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _tree(view: RunView, prefix: str, lines: list[str]) -> None:
    items: list[tuple[str, RunView]] = []
    for a in view.archived():
        items.append(("archived", a))
    for c in view.children():
        items.append(("fork", c))
    for i, (what, v) in enumerate(items):
        last = i == len(items) - 1
        branch = "`-- " if last else "|-- "
        if what == "fork":
            where = f"at _step={v.branch_step}"
        else:  # an archived branch's own rows start after the step it branched at (or at 0)
            where = f"steps {0 if v.branch_step is None else v.branch_step + 1}..{_fmt(v.last_step)}"
        lines.append(f"{prefix}{branch}{what} {v.id} [{v.state}] {where}")
        _tree(v, prefix + ("    " if last else "|   "), lines)


def cmd_tree(api: Api, args: argparse.Namespace) -> None:
    r = api.run(args.run)
    root = r
    while root.parent is not None and root.kind == "fork":
        root = api.run(root.parent.run_id.split("~")[0])
    lines = [f"{root.id} [{root.state}] {root.kind} last_step={_fmt(root.last_step)}"
             + (f" (rewound at _step={root.branch_step})" if root.kind == "rewind" else "")]
    _tree(root, "", lines)
    sys.stdout.write("\n".join(lines) + "\n")


def cmd_history(api: Api, args: argparse.Namespace) -> None:
    keys = [k for k in args.keys.split(",") if k] if args.keys else None
    rows = api.run(args.run).history(keys=keys, own_only=args.own_only)
    if args.format == "json":
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")
        return
    cols = ["_step"] + (keys if keys else sorted({k for row in rows for k in row} - {"_step"}))
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(cols)
    for row in rows:
        w.writerow([row.get(c, "") for c in cols])


def cmd_ui(api: Api, args: argparse.Namespace) -> None:
    from .ui.server import make_server

    try:
        srv = make_server(api.store, args.host, args.port)
    except OSError as exc:
        raise ForkpointError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"forkpoint ui: http://{args.host}:{srv.server_address[1]}/  (store {api.store.url}; Ctrl-C stops)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="forkpoint", description="Inspect forkpoint runs, rewinds and forks.")
    p.add_argument("--store", help="store path or URL (default: $FORKPOINT_STORE or ./forkpoint/runs.db)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("runs", help="list runs")
    s.add_argument("--project")
    s.set_defaults(fn=cmd_runs)
    s = sub.add_parser("show", help="one run as JSON: state, lineage, config, summary")
    s.add_argument("run", help="<id>, <project>/<id> or <id>~k (archived branch)")
    s.set_defaults(fn=cmd_show)
    s = sub.add_parser("tree", help="lineage: forks with their branch steps, archived branches")
    s.add_argument("run")
    s.set_defaults(fn=cmd_tree)
    s = sub.add_parser("history", help="visible history as CSV (default) or JSON lines")
    s.add_argument("run")
    s.add_argument("--keys", help="comma-separated metric names")
    s.add_argument("--format", choices=["csv", "json"], default="csv")
    s.add_argument("--own-only", action="store_true", help="leave out rows inherited from a fork parent")
    s.set_defaults(fn=cmd_history)
    s = sub.add_parser("ui", help="local read-only web UI with charts (binds 127.0.0.1)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8765)
    s.set_defaults(fn=cmd_ui)
    for name in ("runs", "show", "tree", "history", "ui"):
        sub.choices[name].add_argument("--store", dest="sub_store", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        api = Api(args.sub_store or args.store)
        args.fn(api, args)
    except ForkpointError as exc:
        print(f"forkpoint: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
