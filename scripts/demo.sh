#!/usr/bin/env bash
# The demo: train, crash, resume (rewind), fork, show the result: bash scripts/demo.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
exec "$PY" examples/demo.py "$@"
