#!/usr/bin/env bash
# The peer comparison in its own virtualenv (.venv-bench), so peers never enter the test environment.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.venv-bench"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
links=()
[ -d /opt/wheels ] && links=(--find-links /opt/wheels)
# torch only ever as the pinned local CPU build (lightning pins the same version)
"$VENV/bin/python" -m pip install -q "${links[@]}" "torch==2.13.0" -e "$ROOT[bench,lightning]"
exec "$VENV/bin/python" "$ROOT/benchmarks/compare_peers.py" "$@"
