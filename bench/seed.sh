#!/usr/bin/env bash
# Time `flask seed` on a throwaway PostgreSQL database (created, migrated, dropped).
# Usage: bench/seed.sh [ARTICLES] [USERS]   (defaults 100000 and 1000)
# Env: PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432), BENCH_DB (default conduit_bench_seed)
set -euo pipefail
cd "$(dirname "$0")/.."

ARTICLES=${1:-100000}
USERS=${2:-1000}
ADMIN=${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-conduit_bench_seed}

pg_admin() { .venv/bin/python - "$ADMIN/postgres" "$1" <<'PY'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(sys.argv[2])
PY
}

make --quiet .venv/bin/activate
pg_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
pg_admin "CREATE DATABASE $DB"
trap 'pg_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT

export FLASK_APP=wsgi.py DATABASE_URL="$ADMIN/$DB"
.venv/bin/flask db upgrade 2>/dev/null
start=$(date +%s.%N)
.venv/bin/flask seed --users "$USERS" --articles "$ARTICLES"
end=$(date +%s.%N)
echo "flask seed --users $USERS --articles $ARTICLES: $(echo "$end - $start" | bc) s wall clock"
