#!/bin/sh
# Installs Debian's chromium package when /usr/bin/chromium is missing: the dashboard's
# browser tests (tests/bridge/web) drive it through Playwright with executable_path, as
# Playwright's own browser download cannot be had here. Needs root and apt-get: elsewhere
# it says so, the tests skip, and in CI (CI=true) they fail.
set -eu
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: installing Debian's chromium (for tests/bridge/web)" >&2
  { apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 &&
      apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; }; } ||
    echo "ensure_chromium: apt-get could not install chromium" >&2
else
  echo "ensure_chromium: chromium is missing (apt-get install chromium, as root)" >&2
fi
exit 0
