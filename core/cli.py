"""``forkpoint`` command line: runs, show, tree, history, ui. Output is plain text, CSV or JSON so
it pipes into other tools; errors go to stderr with exit status 1 (2 for bad usage, from argparse).

Everything printed as text passes through ``printable``: a run name, id, tag or metric key holding
terminal control characters (``"\\x1b]0;pwn\\x07"``, ``"\\x1b[2J"``) is printed with those
characters escaped (``\\x1b``), never raw. JSON output escapes them by itself. CSV written to a
terminal is escaped the same way; CSV piped to a file or program stays byte-exact (it is data).
The CLI reads only through ``Api``/``RunView``; it never creates a store.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sqlite3
import sys
import time
import unicodedata
from typing import Any, Sequence, TextIO

from .api import Api, RunView
from .errors import ForkpointError
from .gc import collect, collect_media
from .interop.cli import add_parsers as add_interop_parsers
from .store import open_store, resolve_url

# C0 and C1 control characters (ESC, BEL, CSI, newline, tab...) and the bidirectional overrides
# that make a terminal show text other than what is there.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(value: Any) -> str:
    """``value`` as text that is safe to show on a terminal: control characters escaped repr-style."""
    text = "" if value is None else str(value)

    def esc(m: re.Match[str]) -> str:
        c = m.group()
        return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")

    return _UNPRINTABLE.sub(esc, text)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return printable(v)


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _note(kind: str, text: str) -> None:
    print(f"forkpoint: {kind}: {printable(text)}", file=sys.stderr)


def cmd_runs(api: Api, args: argparse.Namespace) -> None:
    """Aligned columns on a terminal; tab-separated (one run per line) when piped."""
    header = ["id", "project", "name", "state", "kind", "last_step", "parent", "created", "tags"]
    rows = []
    for r in api.runs(args.project):
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(r.created_at))
        rows.append([printable(r.id), printable(r.project), printable(r.name), r.state, r.kind, _fmt(r.last_step),
                     printable(r.parent or ""), created, ",".join(printable(t) for t in r.tags)])
    out = sys.stdout
    if not _is_terminal(out):
        for row in [header, *rows]:
            out.write("\t".join(row) + "\n")
        return
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [cell + " " * (w - _width(cell)) for cell, w in zip(row, widths)]
        out.write("  ".join(cells).rstrip() + "\n")


def cmd_show(api: Api, args: argparse.Namespace) -> None:
    r = api.run(args.run)
    info = {
        "id": r.id, "project": r.project, "name": r.name, "state": r.state, "kind": r.kind,
        "parent": str(r.parent) if r.parent else None, "last_step": r.last_step, "tags": r.tags,
        "notes": r.notes, "dropped_steps": r.dropped_steps, "config": r.config,
        "config_changes": r.config_changes, "summary": r.summary,
        "archived": [a.id for a in r.archived()], "children": [c.id for c in r.children()],
    }
    json.dump(_strict_json(info), sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _tree_line(entry_view: RunView, relation: str) -> str:
    v = entry_view
    if relation == "root":
        line = f"{printable(v.id)} [{v.state}] {v.kind} last_step={_fmt(v.last_step)}"
        if v.kind == "rewind":
            line += f" (rewound at _step={v.branch_step})"
        return line
    if relation == "fork":
        point = v.parent
        return f"fork {printable(v.id)} [{v.state}] at _step={point.step if point else v.branch_step}"
    return f"archived {printable(v.id)} [{v.state}] {printable(v.span())}"


def cmd_tree(api: Api, args: argparse.Namespace) -> None:
    """The whole lineage the run belongs to, from its root run; forks under the branch holding
    their prefix, archived branches labelled with what they hold."""
    here = api.run(args.run)
    lasts: list[bool] = []  # per depth: whether the line at that depth was its parent's last
    out = sys.stdout
    for entry in here.root().tree():
        lasts[entry.depth:] = [entry.last]
        line = _tree_line(entry.view, entry.relation)
        if entry.view.id == here.id and entry.depth:
            line += "  <-"
        if entry.depth == 0:
            out.write(line + "\n")
            continue
        prefix = "".join("    " if last else "|   " for last in lasts[1:entry.depth])
        out.write(prefix + ("`-- " if entry.last else "|-- ") + line + "\n")


def _strict_json(value: Any, replaced: list[int] | None = None) -> Any:
    """NaN and infinities are not JSON (``jq`` and browsers refuse them): they are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        if replaced is not None:
            replaced[0] += 1
        return None
    if isinstance(value, dict):
        return {k: _strict_json(v, replaced) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict_json(v, replaced) for v in value]
    return value


def cmd_history(api: Api, args: argparse.Namespace) -> None:
    keys = [k for k in args.keys.split(",") if k] if args.keys else None
    view = api.run(args.run)
    if keys:
        have = view.keys(own_only=args.own_only)
        unknown = [k for k in keys if k not in have]
        if unknown:
            _note("warning", f"run {view.id!r} has no {'own ' if args.own_only else ''}rows with "
                             f"{', '.join(repr(k) for k in unknown)}; its keys are: {', '.join(have) or 'none'}")
    rows = view.history(keys=keys, own_only=args.own_only)
    if args.own_only and not rows:
        point = view.parent
        where = f" (its visible history is inherited from {point})" if point and view.kind == "fork" else ""
        _note("note", f"run {view.id!r} has no rows of its own{' with those keys' if keys else ''}{where}; "
                      "leave out --own-only to see the visible history")
    out = sys.stdout
    if args.format in ("json", "jsonl"):
        replaced = [0]
        clean = [_strict_json(row, replaced) for row in rows]
        if args.format == "json":
            json.dump(clean, out, default=str, allow_nan=False)
            out.write("\n")
        else:
            for row in clean:
                out.write(json.dumps(row, default=str, allow_nan=False) + "\n")
        if replaced[0]:
            _note("note", f"{replaced[0]} NaN/infinite values written as null (JSON has no such numbers)")
        return
    cols = ["_step"] + (keys if keys else sorted({k for row in rows for k in row} - {"_step"}))
    cell = printable if _is_terminal(out) else (lambda v: "" if v is None else v)
    w = csv.writer(out, lineterminator="\n")
    w.writerow([cell(c) for c in cols])
    for row in rows:
        w.writerow([cell(row.get(c)) for c in cols])


def cmd_ui(api: Api, args: argparse.Namespace) -> None:
    from .ui.server import make_server

    try:
        srv = make_server(api, args.host, args.port, token=args.token)
    except OSError as exc:
        raise ForkpointError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ForkpointError(f"--token: {exc}") from None
    note = "; the token in this URL is needed from any browser" if srv.token else ""
    print(f"forkpoint ui: {srv.url}  (store {printable(api.url)}{note}; Ctrl-C stops)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


def cmd_gc(api: Api, args: argparse.Namespace) -> None:
    # gc writes, so it opens the store itself; reading and refusing a missing store went through Api
    store = open_store(api.url)
    dropped = collect(store, args.run, args.project, dry_run=args.dry_run)
    blobs = collect_media(store, dry_run=args.dry_run, dropping=dropped if args.dry_run else ())
    verb = "would drop" if args.dry_run else "dropped"
    for a in dropped:
        sys.stdout.write(f"{verb} {printable(a.ref)}: {a.points} points, {a.bytes} bytes\n")
    total = sum(a.bytes for a in dropped)
    sys.stdout.write(f"{verb} {len(dropped)} archived branch(es), {total} bytes\n")
    sys.stdout.write(f"{verb} {blobs.count} media blob(s) nothing refers to any more, {blobs.bytes} bytes\n")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="forkpoint", description="Inspect forkpoint runs, rewinds and forks.")
    p.add_argument("--store", help="store path or URL (default: $FORKPOINT_STORE or ./forkpoint-runs/runs.db)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("runs", help="list runs (aligned on a terminal, tab-separated when piped)")
    s.add_argument("--project")
    s.set_defaults(fn=cmd_runs)
    s = sub.add_parser("show", help="one run as JSON: state, lineage, config, summary")
    s.add_argument("run", help="<id>, <project>/<id> or <id>~k (archived branch)")
    s.set_defaults(fn=cmd_show)
    s = sub.add_parser("tree", help="lineage: forks with their branch steps, archived branches")
    s.add_argument("run")
    s.set_defaults(fn=cmd_tree)
    s = sub.add_parser("history", help="visible history as CSV (default), a JSON array or JSON lines")
    s.add_argument("run")
    s.add_argument("--keys", help="comma-separated metric names")
    s.add_argument("--format", choices=["csv", "json", "jsonl"], default="csv",
                   help="csv (default), json (one array) or jsonl (one object per line)")
    s.add_argument("--own-only", action="store_true", help="leave out rows inherited from a fork parent")
    s.set_defaults(fn=cmd_history)
    s = sub.add_parser("ui", help="local read-only web UI with charts (binds 127.0.0.1)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1); beyond loopback a token is required (generated if not given)")
    s.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    s.add_argument("--token", help="require this token on every request (default: none on loopback, generated otherwise)")
    s.set_defaults(fn=cmd_ui)
    s = sub.add_parser("gc", help="drop archived branches on purpose (never one a fork still reads through)")
    s.add_argument("run", nargs="?", help="only this run's archived branches (default: every run)")
    s.add_argument("--project", help="only this project's runs")
    s.add_argument("--dry-run", action="store_true", help="say what would be dropped and how much; drop nothing")
    s.set_defaults(fn=cmd_gc)
    add_interop_parsers(sub)
    for name in ("runs", "show", "tree", "history", "ui", "gc", "export", "import"):
        sub.choices[name].add_argument("--store", dest="sub_store", help=argparse.SUPPRESS)
    return p


def _store_read_errors() -> tuple[type[BaseException], ...]:
    """What a store that is not a readable forkpoint store raises below the store layer."""
    errors: list[type[BaseException]] = [sqlite3.Error, UnicodeDecodeError, json.JSONDecodeError]
    try:
        import psycopg
    except ImportError:
        pass
    else:
        errors.append(psycopg.Error)
    return tuple(errors)


def _store_name(store: str | None) -> str:
    try:
        return resolve_url(store)
    except ForkpointError:
        return repr(store)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    store = args.sub_store or args.store
    try:
        api = Api(open_store(store) if getattr(args, "creates_store", False) else store)
        args.fn(api, args)
    except ForkpointError as exc:
        _note("error", str(exc))
        return 1
    except _store_read_errors() as exc:
        _note("error", f"store {_store_name(store)} cannot be read (is it a forkpoint store?): "
                       f"{type(exc).__name__}: {exc}")
        return 1
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, and keep the exit flush from failing too
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
