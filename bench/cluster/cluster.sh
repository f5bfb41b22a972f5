#!/usr/bin/env bash
# A local multi-host topology under instance/cluster/: PostgreSQL 15 primary and streaming replica,
# PgBouncer (transaction mode) in front of each, Redis, HOSTS gunicorn app hosts on 127.0.0.11..,
# nginx on 127.0.0.1:$PORT. Usage: cluster.sh up|down|replica-stop|replica-start|host-start N.
# Run as root (it installs packages and runs PostgreSQL and PgBouncer as the postgres user).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/cluster
DIR=$ROOT/instance/cluster
RUN=$DIR/run
PGBIN=/usr/lib/postgresql/15/bin
HOSTS=${HOSTS:-3}
PORT=${PORT:-8080}
REPLICA_DELAY_MS=${REPLICA_DELAY_MS:-0}
# Below Linux's ephemeral range (32768-60999 by default): there, an outgoing connection that happens
# to hold the port makes the listener's bind fail, and PgBouncer exits after it has daemonized.
PRIMARY_PORT=15432
REPLICA_PORT=15433
BOUNCER_PRIMARY_PORT=15434
BOUNCER_REPLICA_PORT=15435
OWN_REDIS_PORT=16379
REDIS_URL=${CLUSTER_REDIS_URL:-redis://127.0.0.1:6379/13}
VENV=$ROOT/.venv/bin

log() { echo "cluster: $(date +%T) $*"; }
as_pg() { runuser -u postgres -- "$@"; }

install_packages() {
  local missing=()
  [ -x "$PGBIN/postgres" ] || missing+=(postgresql-15)
  command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v curl >/dev/null || missing+=(curl)
  command -v ss >/dev/null || missing+=(iproute2)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    # policy-rc.d 101: the packages' own services are not started; this rig runs its own.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  fi
}

wait_for() {  # wait_for DESCRIPTION SECONDS COMMAND...: on failure, what the command last said
  local what=$1 seconds=$2 said=""; shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    if said=$("$@" 2>&1); then return 0; fi
    sleep 0.2
  done
  log "$what did not answer within ${seconds}s; last said: ${said:-nothing}" >&2
  return 1
}

port_free() {  # port_free PORT DESCRIPTION: fail, naming the holder, if something listens on PORT
  local held
  # Listeners only: the closing connections of a part just stopped do not block its restart (every
  # part binds with SO_REUSEADDR), and below the ephemeral range no outgoing connection takes PORT.
  held=$(ss -Hltnp "sport = :$1" 2>/dev/null) || true
  [ -z "$held" ] && return 0
  log "port $1 for $2 is taken (stop what holds it, or a cluster of another checkout):" >&2
  printf '%s\n' "$held" >&2
  return 1
}

show_log() {  # show_log FILE: its last lines, after a part failed to start
  [ -f "$1" ] && { log "last lines of $1:" >&2; tail -n 20 "$1" >&2; }
  return 1
}

sql() {  # sql PORT DB STATEMENT
  psql -X -q -h 127.0.0.1 -p "$1" -U postgres -d "$2" -Atc "$3"
}

render() {  # render TEMPLATE KEY=VALUE...
  local text; text=$(cat "$1"); shift
  for pair in "$@"; do text=${text//@${pair%%=*}@/${pair#*=}}; done
  printf '%s\n' "$text"
}

pg_running() {  # pg_running NAME: this checkout's node NAME is up (not another on its port)
  local pid
  pid=$(head -n 1 "$DIR/$1/postmaster.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

start_postgres() {  # start_postgres NAME PORT
  port_free "$2" "PostgreSQL $1"
  as_pg "$PGBIN/pg_ctl" -D "$DIR/$1" -l "$RUN/postgres-$1.log" -w -t 60 start >/dev/null \
    || show_log "$RUN/postgres-$1.log"
  wait_for "PostgreSQL $1" 30 pg_isready -U postgres -h 127.0.0.1 -p "$2" \
    || show_log "$RUN/postgres-$1.log"
}

init_databases() {
  # Owned by postgres, private: PostgreSQL refuses a data directory anyone else can read.
  mkdir -p "$RUN" "$DIR/primary" "$DIR/replica"
  chown postgres:postgres "$RUN" "$DIR/primary" "$DIR/replica"
  chmod 0700 "$RUN" "$DIR/primary" "$DIR/replica"
  if [ ! -f "$DIR/primary/PG_VERSION" ]; then
    log "initdb primary"
    as_pg "$PGBIN/initdb" -D "$DIR/primary" -U postgres -A trust --no-instructions >/dev/null
    render "$HERE/postgresql.conf.tmpl" "RUN=$RUN" >>"$DIR/primary/postgresql.conf"
    echo "host replication postgres 127.0.0.1/32 trust" >>"$DIR/primary/pg_hba.conf"
  fi
  echo "port = $PRIMARY_PORT" | as_pg tee "$DIR/primary/node.conf" >/dev/null
  pg_running primary || start_postgres primary $PRIMARY_PORT
  if [ "$(sql $PRIMARY_PORT postgres "SELECT count(*) FROM pg_database WHERE datname = 'conduit'")" = 0 ]; then
    sql $PRIMARY_PORT postgres "CREATE DATABASE conduit"
    # Set here rather than per connection: PgBouncer does not pass connection options through.
    sql $PRIMARY_PORT postgres "ALTER DATABASE conduit SET statement_timeout = 15000"
  fi
  if [ ! -f "$DIR/replica/PG_VERSION" ]; then
    log "pg_basebackup -R replica"
    as_pg pg_basebackup -h 127.0.0.1 -p $PRIMARY_PORT -U postgres -D "$DIR/replica" -R -X stream -c fast
  fi
  # A replica cloned when the primary listened elsewhere follows it to its port.
  as_pg sed -i -E "/^primary_conninfo/s/port=[0-9]+/port=$PRIMARY_PORT/" "$DIR/replica/postgresql.auto.conf"
  {
    echo "port = $REPLICA_PORT"
    echo "recovery_min_apply_delay = '${REPLICA_DELAY_MS}ms'"
  } | as_pg tee "$DIR/replica/node.conf" >/dev/null
  if pg_running replica; then
    as_pg "$PGBIN/pg_ctl" -D "$DIR/replica" reload >/dev/null  # a new REPLICA_DELAY_MS
  else
    start_postgres replica $REPLICA_PORT
  fi
}

start_bouncer() {  # start_bouncer NAME PORT PG_PORT
  echo '"postgres" ""' >"$DIR/userlist.txt"
  render "$HERE/pgbouncer.ini.tmpl" "DIR=$DIR" "RUN=$RUN" "NAME=$1" "PORT=$2" "PG_PORT=$3" \
    >"$DIR/pgbouncer-$1.ini"
  # PgBouncer runs as postgres: readable whatever the caller's umask (neither holds a secret).
  chmod 0644 "$DIR/userlist.txt" "$DIR/pgbouncer-$1.ini"
  local pidfile=$RUN/pgbouncer-$1.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill -HUP "$(cat "$pidfile")"  # running: reload its settings
  else
    port_free "$2" "PgBouncer $1"
    as_pg pgbouncer -d "$DIR/pgbouncer-$1.ini"
  fi
  wait_for "PgBouncer $1" 20 sql "$2" conduit "SELECT 1" || show_log "$RUN/pgbouncer-$1.log"
}

start_redis() {
  if redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then return; fi
  # No Redis where expected: run one of our own.
  REDIS_URL=redis://127.0.0.1:$OWN_REDIS_PORT/0
  if ! redis-cli -p $OWN_REDIS_PORT ping >/dev/null 2>&1; then
    port_free $OWN_REDIS_PORT Redis
    redis-server --bind 127.0.0.1 --port $OWN_REDIS_PORT --save "" --appendonly no \
      --daemonize yes --pidfile "$DIR/redis.pid" --dir "$DIR" --logfile "$DIR/redis.log"
  fi
  wait_for Redis 10 redis-cli -p $OWN_REDIS_PORT ping
}

write_app_env() {
  [ -f "$DIR/secret_key" ] || (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$DIR/secret_key")
  # Holds the secret key: readable by root only, as the app hosts run.
  install -m 0600 /dev/stdin "$DIR/app.env" <<ENV
DATABASE_URL=postgresql://postgres@127.0.0.1:$BOUNCER_PRIMARY_PORT/conduit
DATABASE_REPLICA_URL=postgresql://postgres@127.0.0.1:$BOUNCER_REPLICA_PORT/conduit
DB_PREPARED_STATEMENTS=false
ROUTING_REDIS_URL=$REDIS_URL
SECRET_KEY=$(cat "$DIR/secret_key")
PROXY_COUNT=1
WEB_CONCURRENCY=${WEB_CONCURRENCY:-2}
GUNICORN_GRACEFUL_TIMEOUT=5
LOG_LEVEL=WARNING
RATELIMIT_ENABLED=true
RATELIMIT_STORAGE_URI=$REDIS_URL
RATELIMIT_LOGIN_PER_IP="1000 per minute"
RATELIMIT_LOGIN_PER_ACCOUNT="5 per minute"
RATELIMIT_REGISTER_PER_IP="10000 per hour"
RATELIMIT_WRITES_PER_USER="10000 per minute"
ENV
  # What the cluster tests need to find and drive the parts.
  cat >"$DIR/cluster.env" <<ENV
CLUSTER_URL=http://127.0.0.1:$PORT
HOSTS=$HOSTS
REPLICA_DELAY_MS=$REPLICA_DELAY_MS
PRIMARY_PORT=$PRIMARY_PORT
REPLICA_PORT=$REPLICA_PORT
BOUNCER_PRIMARY_PORT=$BOUNCER_PRIMARY_PORT
BOUNCER_REPLICA_PORT=$BOUNCER_REPLICA_PORT
REDIS_URL=$REDIS_URL
ENV
}

host_alive() { [ -f "$DIR/app-$1.pid" ] && kill -0 "$(cat "$DIR/app-$1.pid")" 2>/dev/null; }

start_host() {  # start_host N: gunicorn on 127.0.0.1N:8000, in its own process group
  local n=$1
  if host_alive "$n"; then return; fi
  (
    set -a; . "$DIR/app.env"; set +a
    cd "$ROOT"
    HOST=127.0.0.1$n PORT=8000 exec setsid "$VENV/gunicorn" -c gunicorn.conf.py \
      --pid "$DIR/app-$n.pid" wsgi:app >>"$DIR/app-$n.log" 2>&1 </dev/null
  ) &
  wait_for "app host $n" 60 curl -fsS -o /dev/null "http://127.0.0.1$n:8000/readyz"
}

start_nginx() {
  local upstreams=""
  for n in $(seq 1 "$HOSTS"); do
    upstreams+="        server 127.0.0.1$n:8000 max_fails=1 fail_timeout=2s;"$'\n'
  done
  mkdir -p "$DIR/nginx-tmp"
  chown nobody:nogroup "$DIR/nginx-tmp"
  render "$HERE/nginx.conf.tmpl" "DIR=$DIR" "PORT=$PORT" "UPSTREAMS=${upstreams%$'\n'}" \
    >"$DIR/nginx.conf"
  if [ -f "$DIR/nginx.pid" ] && kill -0 "$(cat "$DIR/nginx.pid")" 2>/dev/null; then
    nginx -e "$DIR/nginx-error.log" -c "$DIR/nginx.conf" -p "$DIR" -s reload
  else
    nginx -e "$DIR/nginx-error.log" -c "$DIR/nginx.conf" -p "$DIR"
  fi
  wait_for nginx 20 curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz"
}

ensure_traversable() {  # postgres must reach its data directories under this checkout
  local path=$DIR
  while [ "$path" != / ]; do
    path=$(dirname "$path")
    if ! runuser -u postgres -- test -x "$path"; then
      log "chmod o+x $path: PostgreSQL runs as postgres and must pass through it"
      chmod o+x "$path"
    fi
  done
}

up() {
  [ "$HOSTS" -ge 1 ] && [ "$HOSTS" -le 9 ] || { log "HOSTS must be 1..9" >&2; exit 2; }
  install_packages
  if [ -f "$DIR/cluster.env" ] && ! grep -qx "PRIMARY_PORT=$PRIMARY_PORT" "$DIR/cluster.env"; then
    log "started on other ports by an earlier cluster.sh: stopped first"
    down
  fi
  mkdir -p "$DIR"
  chmod 0755 "$DIR"
  ensure_traversable
  init_databases
  start_bouncer primary $BOUNCER_PRIMARY_PORT $PRIMARY_PORT
  start_bouncer replica $BOUNCER_REPLICA_PORT $REPLICA_PORT
  start_redis
  write_app_env
  log "flask db upgrade on the primary"
  (cd "$ROOT" && DATABASE_URL=postgresql://postgres@127.0.0.1:$PRIMARY_PORT/conduit \
    "$VENV/flask" --app wsgi.py db upgrade 2>&1 | grep -v '^INFO' || true)
  for n in $(seq 1 "$HOSTS"); do start_host "$n"; done
  start_nginx
  log "primary :$PRIMARY_PORT, replica :$REPLICA_PORT (delay ${REPLICA_DELAY_MS} ms)," \
    "pgbouncer :$BOUNCER_PRIMARY_PORT/:$BOUNCER_REPLICA_PORT, redis $REDIS_URL, $HOSTS app hosts"
  echo "http://127.0.0.1:$PORT"
}

stop_pid() {  # stop_pid PIDFILE [GROUP]: TERM, wait, then KILL
  local file=$1 pid
  pid=$(cat "$file" 2>/dev/null) || return 0
  local target=$pid
  [ "${2:-}" = group ] && target=-$pid
  kill -TERM -- "$target" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 -- "$target" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL -- "$target" 2>/dev/null || true
  rm -f "$file"
}

down() {
  [ -d "$DIR" ] || return 0
  stop_pid "$DIR/nginx.pid"
  # Each host is its own process group: workers left by a killed master stop with it.
  for file in "$DIR"/app-*.pid; do [ -f "$file" ] && stop_pid "$file" group; done
  for name in primary replica; do stop_pid "$RUN/pgbouncer-$name.pid"; done
  [ -f "$DIR/redis.pid" ] && stop_pid "$DIR/redis.pid"
  for name in replica primary; do
    if [ -f "$DIR/$name/postmaster.pid" ]; then
      as_pg "$PGBIN/pg_ctl" -D "$DIR/$name" -m fast -w stop >/dev/null 2>&1 || true
    fi
  done
  log "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  replica-stop) as_pg "$PGBIN/pg_ctl" -D "$DIR/replica" -m fast -w stop >/dev/null ;;
  replica-start) pg_running replica || start_postgres replica $REPLICA_PORT ;;
  host-start) start_host "$2" ;;
  *) echo "usage: $0 up|down|replica-stop|replica-start|host-start N" >&2; exit 2 ;;
esac
