# Sourced by the demo and test scripts: make ./.venv with forkpoint and everything the demo and the
# tests need. One venv serves both scripts (same extras, same stamp), so they never take turns
# reinstalling it; it is reinstalled only when pyproject.toml changes. torch comes from the pinned
# local CPU build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${FORKPOINT_EXTRAS:-dev,postgres,lightning,keras,transformers,interop}"
STAMP="$VENV/.forkpoint-installed"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16) $EXTRAS"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "setting up $VENV (once; log: .venv/install.log)" >&2
  # torch==2.13.0 is a local CPU build: look in /opt/wheels too, never pull the CUDA build
  links=()
  [ -d /opt/wheels ] && links=(--find-links /opt/wheels)
  if ! "$VENV/bin/python" -m pip install "${links[@]}" "torch==2.13.0" -e "$ROOT[$EXTRAS]" >"$VENV/install.log" 2>&1; then
    cat "$VENV/install.log" >&2
    exit 1
  fi
  echo "$want" > "$STAMP"
fi
PY="$VENV/bin/python"
