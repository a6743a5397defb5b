#!/bin/sh
# Usage: sh scripts/ensure_deb.sh COMMAND PACKAGE WHAT-FOR
# Installs Debian's PACKAGE when COMMAND is missing, for tests that need a real tool:
#   systemd-analyze (systemd) for tests/service: systemd-analyze verify/security of units;
#   chromium (chromium) for tests/bridge/web: Playwright drives it by executable_path,
#   as Playwright's own browser download cannot be had here.
# Installing starts nothing. Needs root and apt-get: elsewhere it says so, the tests
# skip, and in CI (CI=true) they fail.
set -eu
[ $# -eq 3 ] || { echo "usage: sh scripts/ensure_deb.sh COMMAND PACKAGE WHAT-FOR" >&2; exit 2; }
command="$1" package="$2" purpose="$3"
command -v "$command" >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_deb: installing Debian's $package (for $purpose)" >&2
  { apt-get install -y --no-install-recommends "$package" >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 &&
      apt-get install -y --no-install-recommends "$package" >/dev/null 2>&1; }; } ||
    echo "ensure_deb: apt-get could not install $package" >&2
else
  echo "ensure_deb: $command is missing (apt-get install $package, as root)" >&2
fi
exit 0
