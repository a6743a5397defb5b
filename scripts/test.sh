#!/bin/sh
# Sets up .venv with the test tools, then runs every check: ruff, mypy --strict, pytest.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh --test
sh scripts/ensure_claude.sh   # the pinned Claude Code for tests/claude_e2e (npm)
sh scripts/ensure_systemd.sh  # systemd-analyze for tests/service (Debian's systemd)
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
