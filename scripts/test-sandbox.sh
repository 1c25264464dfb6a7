#!/usr/bin/env bash
# Debian's bubblewrap for the hosted code interpreter's sandbox tests (and the sandbox
# itself: docs/code-interpreter.md). Installs it with apt-get when `bwrap` is missing.
# Never fails the build: without bwrap the sandbox tests skip, saying why.
set -u
command -v bwrap >/dev/null 2>&1 && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-sandbox: no apt-get here; the code interpreter tests will be skipped" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "test-sandbox: not root and no sudo; the code interpreter tests will be skipped" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "test-sandbox: installing bubblewrap with apt-get" >&2
if ! $SUDO apt-get install -y -q bubblewrap >/dev/null 2>&1; then
  $SUDO apt-get update -q >/dev/null 2>&1
  $SUDO apt-get install -y -q bubblewrap >/dev/null 2>&1 \
    || echo "test-sandbox: could not install bubblewrap; the code interpreter tests will be skipped" >&2
fi
exit 0
