#!/bin/sh
# Installs Debian's systemd package when systemd-analyze is missing, for the unit checks
# of tests/service (systemd-analyze verify/security on the generated units). Installing
# the package starts nothing. Needs root and apt-get: elsewhere it says so, the tests
# skip, and in CI (CI=true) they fail.
set -eu
command -v systemd-analyze >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_systemd: installing Debian's systemd (for systemd-analyze)" >&2
  { apt-get install -y --no-install-recommends systemd >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 &&
      apt-get install -y --no-install-recommends systemd >/dev/null 2>&1; }; } ||
    echo "ensure_systemd: apt-get could not install systemd" >&2
else
  echo "ensure_systemd: systemd-analyze is missing (apt-get install systemd, as root)" >&2
fi
exit 0
