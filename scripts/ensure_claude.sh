#!/bin/sh
# Installs the pinned Claude Code into .cache/claude (gitignored) for the end-to-end tests
# (tests/claude_e2e, tests/mcp/test_real_clients.py). Idempotent: does nothing when that
# version is there. Needs node and npm (and the npm registry on the first run): in CI
# (CI=true) their absence fails the run; elsewhere it says so and the tests skip.
set -eu
cd "$(dirname "$0")/.."
VERSION=2.1.197
PREFIX=.cache/claude
PACKAGE="$PREFIX/node_modules/@anthropic-ai/claude-code/package.json"

give_up() {
  if [ "${CI:-}" = "true" ]; then
    echo "ensure_claude: $1: the Claude Code end-to-end tests cannot run" >&2
    exit 1
  fi
  echo "ensure_claude: $1: the Claude Code end-to-end tests will be skipped" >&2
  exit 0
}

installed=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
  "$PACKAGE" 2>/dev/null || true)
if [ "$installed" = "$VERSION" ] && [ -x "$PREFIX/node_modules/.bin/claude" ]; then
  exit 0
fi
command -v node >/dev/null 2>&1 || give_up "node is not installed"
command -v npm >/dev/null 2>&1 || give_up "npm is not installed"
mkdir -p "$PREFIX"
echo "ensure_claude: installing @anthropic-ai/claude-code@$VERSION into $PREFIX" >&2
npm install --prefix "$PREFIX" --no-audit --no-fund --save-exact --loglevel=error \
  "@anthropic-ai/claude-code@$VERSION" >&2 || give_up "npm install failed"
