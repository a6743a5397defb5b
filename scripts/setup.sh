#!/bin/sh
# Creates .venv and installs ai-connect into it (editable). Idempotent; says what it does.
#   sh scripts/setup.sh          the product
#   sh scripts/setup.sh --test   the product and its test tools
#   sh scripts/setup.sh --link   also link ~/.local/bin/ai-connect to it, so that a plain
#                                'ai-connect' works (combine with --test if you like)
# Needs only python3 (3.11+): where Debian's python3-venv is missing, it makes the venv
# without pip and fetches pip from PyPI (scripts/get_pip.py). A re-run with pyproject.toml
# unchanged skips pip (.venv/.ai-connect-setup records what was installed).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
extras=""
link=""
for arg in "$@"; do
  case "$arg" in
    --test) extras="[test]" ;;
    --link) link=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg'; use --test and/or --link" >&2; exit 2 ;;
  esac
done
say() { echo "setup: $*"; }
started=$(date +%s)

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "ai-connect needs Python 3.11 or newer; this python3 is $(python3 -V 2>&1)" >&2
  exit 1
}
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  say "creating the virtual environment $root/.venv ($(python3 -V 2>&1))"
  rm -rf .venv
  if ! python3 -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    say "python3-venv has no pip here: making the venv without it, then fetching pip"
    python3 -m venv --without-pip .venv
    .venv/bin/python scripts/get_pip.py
  fi
fi

stamp=.venv/.ai-connect-setup
digest=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' pyproject.toml)
have=$(cat "$stamp" 2>/dev/null || true)
if [ -x .venv/bin/ai-connect ] && { [ "$have" = "$digest [test]" ] || [ "$have" = "$digest $extras" ]; }; then
  say "ai-connect$extras is installed already (pyproject.toml unchanged): pip skipped"
else
  say "installing ai-connect$extras and its dependencies into .venv with pip (the first time takes about a minute)"
  rm -f "$stamp"
  quiet="--quiet"
  [ -t 1 ] && quiet=""  # a person at a terminal sees pip's own progress
  .venv/bin/python -m pip install $quiet --disable-pip-version-check -e ".$extras"
  echo "$digest $extras" >"$stamp"
fi

program="$root/.venv/bin/ai-connect"
bin_dir="${HOME:?}/.local/bin"
if [ -n "$link" ]; then
  mkdir -p "$bin_dir"
  if [ -e "$bin_dir/ai-connect" ] && [ ! -L "$bin_dir/ai-connect" ]; then
    say "$bin_dir/ai-connect exists and is not a link: left alone (remove it, then run --link again)"
  else
    ln -sfn "$program" "$bin_dir/ai-connect"
    say "linked $bin_dir/ai-connect -> $program"
  fi
fi

say "done in $(( $(date +%s) - started )) s: ai-connect is $program ($("$program" --version))"
found=$(command -v ai-connect 2>/dev/null || true)
if [ -n "$found" ] && [ "$(readlink -f "$found")" = "$(readlink -f "$program")" ]; then
  cmd=ai-connect
  say "'ai-connect' on your PATH ($found) is this one"
else
  cmd="$program"
  if [ -n "$found" ]; then
    say "'ai-connect' on your PATH is another one ($found); the commands below name this one by its path"
  fi
  case ":$PATH:" in
    *":$bin_dir:"*) on_path=1 ;;
    *) on_path="" ;;
  esac
  if [ "$(readlink -f "$bin_dir/ai-connect" 2>/dev/null || true)" != "$(readlink -f "$program")" ]; then
    say "for a plain 'ai-connect' command: sh scripts/setup.sh --link (a link in $bin_dir)"
  elif [ -z "$on_path" ]; then
    say "$bin_dir is not on your PATH: add it, e.g. echo 'export PATH=\"\$HOME/.local/bin:\$PATH\"' >> ~/.profile, and open a new shell"
  fi
fi
say "next: the bridge:          $cmd bridge"
say "      an agent's project:  $cmd setup claude-code --project   (or codex|gemini|cursor|vscode)"
say "      a check of it all:   $cmd doctor"
if [ -n "$extras" ]; then
  say "      every test:          sh scripts/test.sh"
fi
