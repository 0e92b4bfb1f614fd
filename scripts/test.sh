#!/usr/bin/env bash
# The whole test suite, in a local virtualenv it sets up itself: bash scripts/test.sh [pytest args]
set -euo pipefail
export KERAS_BACKEND="${KERAS_BACKEND:-torch}"
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# The UI's end-to-end tests drive Debian's Chromium (no browser download): install it if missing.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's chromium for the UI tests (log: .venv/apt.log)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
    >"$VENV/apt.log" 2>&1 || echo "could not install chromium; see .venv/apt.log" >&2
fi
# PostgreSQL: the local server, as CI uses it, when one answers; else its tests skip, said once.
if [ -z "${FORKPOINT_TEST_POSTGRES_URL:-}" ]; then
  url="postgresql://postgres@127.0.0.1:5432/test"
  if "$PY" -c "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$url" 2>/dev/null; then
    export FORKPOINT_TEST_POSTGRES_URL="$url"
  else
    echo "no PostgreSQL answers at $url: the PostgreSQL half of the tests is skipped" >&2
  fi
fi
# Lint and types first (seconds): ruff and mypy as configured in pyproject.toml
if [ "${FORKPOINT_SKIP_LINT:-0}" != 1 ]; then
  "$PY" -m ruff check core integrations tests benchmarks examples
  "$PY" -m mypy
fi
exec "$PY" -m pytest "$@"
