#!/usr/bin/env bash
# Codex CLI, pinned, from npm into .clients/codex (the package ships a prebuilt binary),
# for tests/clients/test_codex_*.py (`make test` calls this). Idempotent: a stamp keyed by the pin
# skips a finished install. Never fails the build: when npm is missing or the install
# fails, .clients/codex.skip says why and the Codex tests skip with that reason.
set -u
cd "$(dirname "$0")/.."
DIR=.clients
PIN="@openai/codex@0.171.0"
mkdir -p "$DIR"

skip() { echo "$1" > "$DIR/codex.skip"; echo "install-codex: $1 (the Codex tests will skip)" >&2; exit 0; }

stamp="$DIR/codex/.installed-$(echo "$PIN" | cksum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ -x "$DIR/codex/node_modules/.bin/codex" ]; then
  rm -f "$DIR/codex.skip"
  exit 0
fi
command -v npm >/dev/null || skip "npm is not installed"
rm -rf "$DIR/codex"
mkdir -p "$DIR/codex"
echo '{"name": "thinkgate-codex-tests", "private": true}' > "$DIR/codex/package.json"
npm install --prefix "$DIR/codex" --save-exact --no-audit --no-fund --loglevel=error "$PIN" \
  >"$DIR/codex-install.log" 2>&1 \
  || skip "npm could not install $PIN (see $DIR/codex-install.log)"
"$DIR/codex/node_modules/.bin/codex" --version >>"$DIR/codex-install.log" 2>&1 \
  || skip "$PIN installed but does not run on this machine (see $DIR/codex-install.log)"
rm -f "$DIR/codex.skip"
touch "$stamp"
