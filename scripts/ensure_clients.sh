#!/bin/sh
# Installs the real agent clients for the end-to-end tests (tests/agents, tests/claude_e2e,
# tests/mcp/test_real_clients.py): for each client its pinned version AND the newest one
# the npm registry serves, side by side under .cache/clients/NAME/VERSION (gitignored);
# .cache/clients/NAME/latest names the newest. Idempotent: a version already there is
# not installed again (asking the registry for the newest version is one look-up each).
#   sh scripts/ensure_clients.sh            pinned and newest
#   sh scripts/ensure_clients.sh --pinned   the pinned versions only (no registry look-up
#                                           when they are installed)
# Needs node and npm (and the npm registry): in CI (CI=true) their absence, or a failed
# install, fails the run; elsewhere it says so and the tests skip.
set -eu
cd "$(dirname "$0")/.."
# name package pinned-version binary
CLIENTS="claude @anthropic-ai/claude-code 2.1.197 claude
codex @openai/codex 0.171.0 codex
gemini @google/gemini-cli 0.61.0 gemini"
ROOT=.cache/clients
pinned_only=false
[ "${1:-}" = "--pinned" ] && pinned_only=true

give_up() {
  if [ "${CI:-}" = "true" ]; then
    echo "ensure_clients: $1: the real-client end-to-end tests cannot run" >&2
    exit 1
  fi
  echo "ensure_clients: $1: the real-client end-to-end tests will be skipped" >&2
  exit 0
}

installed() {  # installed NAME PACKAGE VERSION BINARY: is that version there?
  dir="$ROOT/$1/$3"
  got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
    "$dir/node_modules/$2/package.json" 2>/dev/null || true)
  [ "$got" = "$3" ] && [ -x "$dir/node_modules/.bin/$4" ]
}

install() {  # install NAME PACKAGE VERSION BINARY
  installed "$@" && return 0
  dir="$ROOT/$1/$3"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "ensure_clients: installing $2@$3 into $dir" >&2
  npm install --prefix "$dir" --no-audit --no-fund --save-exact --loglevel=error \
    "$2@$3" >&2 || { rm -rf "$dir"; return 1; }
}

command -v node >/dev/null 2>&1 || give_up "node is not installed"
command -v npm >/dev/null 2>&1 || give_up "npm is not installed"
echo "$CLIENTS" | while read -r name package version binary; do
  versions=$version
  if [ "$pinned_only" = false ]; then
    newest=$(npm view "$package" version 2>/dev/null) || newest=""
    [ -n "$newest" ] || { echo "ensure_clients: npm view $package failed" >&2; exit 1; }
    mkdir -p "$ROOT/$name"
    printf '%s\n' "$newest" > "$ROOT/$name/latest"
    [ "$newest" = "$version" ] || versions="$version $newest"
  fi
  for v in $versions; do
    install "$name" "$package" "$v" "$binary" || exit 1
  done
done || give_up "npm could not install a client"
