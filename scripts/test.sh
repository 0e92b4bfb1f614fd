#!/usr/bin/env bash
# The whole test suite, in a local virtualenv it sets up itself: bash scripts/test.sh [pytest args]
set -euo pipefail
FORKPOINT_EXTRAS="${FORKPOINT_EXTRAS:-dev,postgres,lightning,keras,transformers}"
export KERAS_BACKEND="${KERAS_BACKEND:-torch}"
source "$(dirname "$0")/env.sh"
cd "$ROOT"
exec "$PY" -m pytest "$@"
