#!/usr/bin/env bash
# The whole test suite, in a local virtualenv it sets up itself: bash scripts/test.sh [pytest args]
set -euo pipefail
FORKPOINT_EXTRAS="${FORKPOINT_EXTRAS:-dev,postgres,lightning,keras,transformers}"
export KERAS_BACKEND="${KERAS_BACKEND:-torch}"
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# The UI's end-to-end tests drive Debian's Chromium (no browser download): install it if missing.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's chromium for the UI tests (log: .venv/apt.log)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
    >"$VENV/apt.log" 2>&1 || echo "could not install chromium; see .venv/apt.log" >&2
fi
exec "$PY" -m pytest "$@"
