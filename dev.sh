#!/usr/bin/env bash
# Gigdesk's two entry points for a fresh machine (Python 3.11, Node.js and git):
#   ./dev.sh run    set up, migrate, seed the demo world if the database is empty, and serve
#   ./dev.sh test   set up the same way and run the whole test suite
# Both are idempotent: run them as often as you like.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3.11}
VENV=.venv
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

setup_python() {
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    PYTHON=python3
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "Gigdesk needs Python 3.11 (found $("$PYTHON" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  local stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)-$1"
  if [ ! -f "$stamp" ]; then
    say "Installing Python packages"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    if [ "$1" = dev ]; then
      "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    else
      "$VENV/bin/python" -m pip install --quiet -e .
    fi
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

setup_assets() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "Gigdesk needs Node.js and npm for its browser assets (htmx, Pico CSS)." >&2
    exit 1
  fi
  if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then
    say "Installing browser assets from npm"
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

setup_chromium() {
  # Browser tests drive Debian's Chromium through Playwright.
  if [ -x /usr/bin/chromium ]; then
    return
  fi
  say "Installing Chromium for the browser tests"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

manage() { "$VENV/bin/python" manage.py "$@"; }

run() {
  # Links in emails and on brand pages (invitations, customer links) point here.
  export SITE_URL=${SITE_URL:-http://$HOST:$PORT}
  setup_python prod
  setup_assets
  say "Migrating the database"
  manage migrate --noinput --verbosity 0
  manage collectstatic --noinput --verbosity 0
  manage seed_demo --if-empty
  say "Starting the job worker"
  # Started directly, not through ``manage``: a backgrounded function is a
  # subshell, and killing it would leave the Python process running.
  "$VENV/bin/python" manage.py run_huey --quiet &
  local worker=$!
  local sandbox=""
  if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
    say "Starting the local Stripe sandbox (no STRIPE_SECRET_KEY set)"
    "$VENV/bin/python" manage.py stripe_sandbox &
    sandbox=$!
  fi
  # The ids are expanded now: the EXIT trap runs after this function's locals are gone.
  trap "kill $worker $sandbox 2>/dev/null || true" EXIT INT TERM
  say "Gigdesk is at http://$HOST:$PORT/  (Ctrl-C stops it)"
  "$VENV/bin/daphne" -b "$HOST" -p "$PORT" marketplace.asgi:application
}

run_tests() {
  setup_python dev
  setup_assets
  setup_chromium
  manage collectstatic --noinput --verbosity 0
  say "Running the test suite (database: ${DATABASE_URL:-embedded SQLite}, redis: ${REDIS_URL:-none})"
  "$VENV/bin/ruff" check .
  "$VENV/bin/python" -m pytest "$@"
}

case "${1:-}" in
  run) shift; run "$@" ;;
  test) shift; run_tests "$@" ;;
  *) echo "usage: ./dev.sh run | ./dev.sh test [pytest args]" >&2; exit 2 ;;
esac
