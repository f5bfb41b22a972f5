#!/usr/bin/env bash
# Reads per second through nginx with 1, 2 and 3 app hosts, and the share of read transactions the
# replica served (PgBouncer's SHOW STATS on each pool, less the routing probes' own transactions,
# measured while idle just before). Starts and stops the cluster per round;
# seeds it once (flask seed) when empty. Needs wrk (apt-get install wrk). Run as root.
# Env: HOSTS_LIST (default "1 2 3"), DURATION seconds per round (15), CONNECTIONS (32),
#      BENCH_PATH (/api/articles?limit=10).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRIPT=$ROOT/bench/cluster/cluster.sh
PORT=${PORT:-8080}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-32}
BENCH_PATH=${BENCH_PATH:-/api/articles?limit=10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

xacts() {  # xacts PORT: transactions PgBouncer on PORT has served for conduit
  psql -X -h 127.0.0.1 -p "$1" -U postgres -d pgbouncer -Atc "SHOW STATS" \
    | awk -F'|' '$1 == "conduit" {print $2}'
}

trap 'bash "$SCRIPT" down >/dev/null' EXIT
echo "hosts  reads/s  p50     p99     replica share  (wrk -t2 -c$CONNECTIONS -d${DURATION}s $BENCH_PATH)"
for hosts in ${HOSTS_LIST:-1 2 3}; do
  bash "$SCRIPT" down >/dev/null
  HOSTS=$hosts REPLICA_DELAY_MS=0 bash "$SCRIPT" up >/dev/null
  . "$ROOT/instance/cluster/cluster.env"  # the ports it chose
  if [ "$(psql -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d conduit -Atc 'SELECT count(*) FROM articles')" = 0 ]; then
    (cd "$ROOT" && DATABASE_URL=postgresql://postgres@127.0.0.1:$PRIMARY_PORT/conduit \
      .venv/bin/flask --app wsgi.py seed --users 200 --articles 2000 >/dev/null)
    sleep 2  # the replica replays the seed
  fi
  wrk -t2 -c"$CONNECTIONS" -d3s "http://127.0.0.1:$PORT$BENCH_PATH" >/dev/null  # warm up
  # The replica monitors' probes (one transaction per pool per worker every 0.2 s), measured idle.
  primary=$(xacts "$BOUNCER_PRIMARY_PORT"); replica=$(xacts "$BOUNCER_REPLICA_PORT"); sleep 5
  probe_primary=$(( $(xacts "$BOUNCER_PRIMARY_PORT") - primary ))
  probe_replica=$(( $(xacts "$BOUNCER_REPLICA_PORT") - replica ))
  primary=$(xacts "$BOUNCER_PRIMARY_PORT"); replica=$(xacts "$BOUNCER_REPLICA_PORT")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT$BENCH_PATH")
  primary=$(( $(xacts "$BOUNCER_PRIMARY_PORT") - primary - probe_primary * DURATION / 5 ))
  replica=$(( $(xacts "$BOUNCER_REPLICA_PORT") - replica - probe_replica * DURATION / 5 ))
  (( primary < 0 )) && primary=0
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  share=$(awk -v r="$replica" -v p="$primary" 'BEGIN {printf "%.1f%%", 100 * r / (r + p)}')
  printf '%-6s %-8s %-7s %-7s %s %s\n' "$hosts" "$rps" "$p50" "$p99" "$share" "$errors"
done
