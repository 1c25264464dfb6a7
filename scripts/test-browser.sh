#!/usr/bin/env bash
# Debian's Chromium for the web console's browser tests (Playwright drives it through its
# executable path; Playwright's own browser download is not used). Installs it with apt-get
# when /usr/bin/chromium is missing. Never fails the build: without a browser the browser
# tests skip, saying why.
set -u
CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-browser: no apt-get here; the console browser tests will be skipped" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "test-browser: not root and no sudo; the console browser tests will be skipped" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "test-browser: installing chromium with apt-get" >&2
if ! $SUDO apt-get install -y -q chromium >/dev/null 2>&1; then
  $SUDO apt-get update -q >/dev/null 2>&1
  $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
    || echo "test-browser: could not install chromium; the console browser tests will be skipped" >&2
fi
exit 0
