#!/usr/bin/env bash
# The real third-party clients that tests/clients/ drives against a live thinkgate, each
# at a pinned version in its own environment (`make test` calls this):
#   .clients/py    a virtualenv with openai-agents, langchain-openai, llm (Responses models are built in)
#   .clients/node  openai (openai-node), ai + @ai-sdk/openai (Vercel AI SDK), zod
# Idempotent: a stamp keyed by the pins skips a finished install. Never fails the build:
# when something cannot be installed, .clients/<py|node>.skip says why and those tests skip
# with that reason. pip and npm use their usual caches (~/.cache/pip, ~/.npm), so a
# reinstall after `rm -rf .clients` takes seconds.
set -u
cd "$(dirname "$0")/.."
DIR=${THINKGATE_CLIENTS_DIR:-.clients}  # tests/clients/test_clients.py reads .clients
PYTHON=${PYTHON:-python3}
PY_PINS="openai-agents==0.24.0 langchain-openai==1.8.1 llm==0.36"
# openai-node 7 and ai 7 need node >= 22; these are the newest that run on node 20.
NODE_PINS="openai@6.49.0 ai@6.0.333 @ai-sdk/openai@3.0.141 zod@4.6.7"
mkdir -p "$DIR"

skip() { echo "$2" > "$DIR/$1.skip"; echo "install-clients: $2 (the $1 client tests will skip)" >&2; }

install_py() {
  local stamp="$DIR/py/.installed-$(echo "$PY_PINS" | cksum | cut -d' ' -f1)"
  [ -f "$stamp" ] && { rm -f "$DIR/py.skip"; return 0; }
  rm -rf "$DIR/py"
  "$PYTHON" -m venv "$DIR/py" >"$DIR/py-install.log" 2>&1 \
    || { skip py "cannot create a virtualenv with $PYTHON (see $DIR/py-install.log)"; return 0; }
  # shellcheck disable=SC2086
  "$DIR/py/bin/python" -m pip install --quiet --disable-pip-version-check $PY_PINS \
    >>"$DIR/py-install.log" 2>&1 \
    || { skip py "pip could not install $PY_PINS (see $DIR/py-install.log)"; return 0; }
  rm -f "$DIR/py.skip"
  touch "$stamp"
}

install_node() {
  local stamp="$DIR/node/.installed-$(echo "$NODE_PINS" | cksum | cut -d' ' -f1)"
  [ -f "$stamp" ] && { rm -f "$DIR/node.skip"; return 0; }
  command -v node >/dev/null && command -v npm >/dev/null \
    || { skip node "node and npm are not installed"; return 0; }
  rm -rf "$DIR/node"
  mkdir -p "$DIR/node"
  echo '{"name": "thinkgate-client-tests", "private": true, "type": "module"}' \
    > "$DIR/node/package.json"
  # shellcheck disable=SC2086
  npm install --prefix "$DIR/node" --save-exact --no-audit --no-fund --loglevel=error \
    $NODE_PINS >"$DIR/node-install.log" 2>&1 \
    || { skip node "npm could not install $NODE_PINS (see $DIR/node-install.log)"; return 0; }
  rm -f "$DIR/node.skip"
  touch "$stamp"
}

install_py
install_node
exit 0
