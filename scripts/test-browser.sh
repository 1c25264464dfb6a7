#!/usr/bin/env bash
# Debian's Chromium for the web console's browser tests (Playwright drives it through its
# executable path; Playwright's own browser download is not used), and a Chinese font
# (fonts-wqy-microhei, 4 MB) so the Simplified Chinese pages and screenshots show
# characters, not boxes. Installs what is missing with apt-get. Never fails the build:
# without a browser the browser tests skip, saying why.
set -u
CHROMIUM=/usr/bin/chromium
need=()
[ -x "$CHROMIUM" ] || need+=(chromium)
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  need+=(fonts-wqy-microhei)
fi
[ "${#need[@]}" -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-browser: no apt-get here; cannot install ${need[*]} (browser tests may skip)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "test-browser: not root and no sudo; cannot install ${need[*]} (browser tests may skip)" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "test-browser: installing ${need[*]} with apt-get" >&2
if ! $SUDO apt-get install -y -q "${need[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -q >/dev/null 2>&1
  $SUDO apt-get install -y -q "${need[@]}" >/dev/null 2>&1 \
    || echo "test-browser: could not install ${need[*]}; the console browser tests may skip" >&2
fi
exit 0
