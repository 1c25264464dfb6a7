#!/usr/bin/env bash
# Start a private PostgreSQL and Redis for the gateway tests (`make test` calls this).
# Installs them from Debian packages when missing; PostgreSQL on a private port and socket
# dir under /tmp, Redis on loopback. Writes the URLs to $ENV_FILE for the tests to read.
# Never fails the build: when something cannot be installed or started, the env file says
# why and those tests skip with that reason.
set -u
BASE=${THINKGATE_SERVICES_DIR:-/tmp/thinkgate-services}
PG_PORT=${THINKGATE_PG_PORT:-55432}
REDIS_PORT=${THINKGATE_REDIS_PORT:-56379}
PGV_PORT=${THINKGATE_PGVECTOR_PORT:-55433}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${THINKGATE_PYTHON:-$ROOT/.venv/bin/python}
ENV_FILE="$BASE/env"
mkdir -p "$BASE"

skip() { echo "SKIP_REASON=$1" > "$ENV_FILE"; echo "test-services: $1 (the PostgreSQL + Redis tests will skip)" >&2; exit 0; }

find_pg_bin() {
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$BASE/apt.log" 2>&1 \
      || { apt-get update -q >>"$BASE/apt.log" 2>&1 && \
           DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$BASE/apt.log" 2>&1; }
  elif command -v sudo >/dev/null; then
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$BASE/apt.log" 2>&1
  else
    return 1
  fi
}

PG_BIN=$(find_pg_bin) || { install postgresql || skip "cannot install postgresql"; PG_BIN=$(find_pg_bin) || skip "no initdb after install"; }
command -v redis-server >/dev/null || install redis-server || skip "cannot install redis-server"
command -v redis-server >/dev/null || skip "no redis-server after install"
# nginx in front of replicas (tests/support/replica_cluster.py): optional, those tests skip without it
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || install nginx-light || install nginx \
  || echo "test-services: nginx not installed (the nginx tests will skip)" >&2

# PostgreSQL refuses to run as root: run it as the `postgres` user when we are root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PG_DATA="$BASE/pg"
PG_SOCK="$BASE/pgsock"
mkdir -p "$PG_SOCK"
[ "$(id -u)" = 0 ] && chown postgres "$BASE" "$PG_SOCK" && chmod 755 "$BASE"
if [ ! -f "$PG_DATA/PG_VERSION" ]; then
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust >"$BASE/initdb.log" 2>&1 \
    || skip "initdb failed (see $BASE/initdb.log)"
fi
if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$BASE/pg.log" -w -t 30 start \
    -o "-p $PG_PORT -k $PG_SOCK -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    >/dev/null 2>&1 || skip "PostgreSQL did not start (see $BASE/pg.log)"
fi
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --logfile "$BASE/redis.log" --dir "$BASE" >/dev/null 2>&1 \
    || skip "Redis did not start (see $BASE/redis.log)"
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
# A second PostgreSQL, with pgvector, for the vector store tests: pgvector is not in Debian
# 12's archive, so it is the PostgreSQL 16 + pgvector that the pgserver wheel (a dev
# dependency) carries; its vector.so cannot load into Debian's PostgreSQL 15 ("version
# mismatch"). Without it those tests skip, saying why.
start_pgvector() {
  local bin
  bin=$("$PY" -c 'import importlib.util as u, pathlib as p
s = u.find_spec("pgserver")
print(p.Path(next(iter(s.submodule_search_locations)), "pginstall", "bin"))' 2>/dev/null) \
    && [ -x "$bin/initdb" ] || { echo "the pgserver package (PostgreSQL + pgvector) is not installed"; return 1; }
  local data="$BASE/pgvector" sock="$BASE/pgvsock"
  mkdir -p "$sock"
  [ "$(id -u)" = 0 ] && chown postgres "$sock"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust >"$BASE/pgvector-initdb.log" 2>&1 \
      || { echo "initdb failed (see $BASE/pgvector-initdb.log)"; return 1; }
  fi
  if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data" -l "$BASE/pgvector.log" -w -t 30 start \
      -o "-p $PGV_PORT -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100" \
      >/dev/null 2>&1 || { echo "it did not start (see $BASE/pgvector.log)"; return 1; }
  fi
}
if PGV_WHY=$(start_pgvector); then
  PGV_LINES="THINKGATE_TEST_PGVECTOR_ADMIN_URL=postgresql://postgres@127.0.0.1:$PGV_PORT/postgres
THINKGATE_TEST_PGVECTOR_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:$PGV_PORT"
else
  PGV_LINES="PGVECTOR_SKIP_REASON=$PGV_WHY"
  echo "test-services: PostgreSQL with pgvector: $PGV_WHY (its tests will skip)" >&2
fi
cat > "$ENV_FILE" <<ENV
THINKGATE_TEST_PG_ADMIN_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
THINKGATE_TEST_PG_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT
THINKGATE_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
$PGV_LINES
ENV
echo "test-services: PostgreSQL on 127.0.0.1:$PG_PORT (with pgvector: ${PGV_WHY:-$PGV_PORT}), Redis on 127.0.0.1:$REDIS_PORT" >&2
