#!/bin/sh
# Creates .venv and installs ai-connect into it (editable). Idempotent.
#   sh scripts/setup.sh          the product
#   sh scripts/setup.sh --test   the product and its test tools
# Needs only python3 (3.11+): where Debian's python3-venv is missing, it makes the venv
# without pip and fetches pip from PyPI (scripts/get_pip.py).
set -eu
cd "$(dirname "$0")/.."
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "ai-connect needs Python 3.11 or newer; this python3 is $(python3 -V 2>&1)" >&2
  exit 1
}
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  rm -rf .venv
  if ! python3 -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    python3 -m venv --without-pip .venv
    .venv/bin/python scripts/get_pip.py
  fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras"
