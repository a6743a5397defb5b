#!/bin/sh
# Sets up .venv with the test tools, then runs every check: ruff, mypy --strict, pytest.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh --test
sh scripts/ensure_clients.sh  # the real agent clients, pinned and newest (npm): tests/agents
sh scripts/ensure_deb.sh systemd-analyze systemd tests/service  # unit checks
sh scripts/ensure_deb.sh chromium chromium tests/bridge/web      # Playwright drives it
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
