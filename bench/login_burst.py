"""Login burst: can wrong-password logins starve everything else?

    .venv/bin/python -m bench.login_burst                       # both rounds, fresh database
    .venv/bin/python -m bench.login_burst --rounds limits-on --duration 30

Serves the app under gunicorn with the project's gunicorn.conf.py (2 workers x 4 threads) on a
fresh PostgreSQL database, behind one (pretend) proxy: PROXY_COUNT=1, so each attacker's
X-Forwarded-For is its address. Per round, a fresh server:

1. idle: a probe process times `GET /api/articles?limit=20` and `GET /healthz`, one after the
   other, for --idle seconds;
2. burst: --clients attackers, each from its own address and each on its own keep-alive
   connection, send logins with wrong passwords for ever-new emails (credential stuffing: no
   per-account limit applies) as fast as they are answered, never waiting for Retry-After; the
   probe keeps timing the same two requests for --duration seconds.

Rounds: `limits-off` (RATELIMIT_ENABLED=false: the hashing bound alone) and `limits-on` (the
default limits, in memory per worker). Goals: burst p99 of the article list within 3x its idle
p99, and /healthz p99 under 100 ms. Prints a Markdown table per round with the attackers'
answers by status; raw numbers go to bench/results/ (not committed). The database it creates is
dropped at the end unless --keep-database.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.run import (
    DEFAULT_ADMIN_URL,
    GUNICORN_CONF,
    RESULTS,
    ROOT,
    free_port,
    fresh_database,
    migrate,
    stop,
)
from bench.seed import seed

ROUNDS = ("limits-off", "limits-on")
ARTICLES = "/api/articles?limit=20"
HEALTH = "/healthz"


# --- server -------------------------------------------------------------------------------------


@contextlib.contextmanager
def server(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """gunicorn -c gunicorn.conf.py wsgi:app on 127.0.0.1:port; stopped (whole group) after."""
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-c",
        str(GUNICORN_CONF),
        "wsgi:app",
    ]
    full_env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=out, stderr=out, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log}")
                with contextlib.suppress(OSError):
                    if get("127.0.0.1", port, HEALTH)[0] == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer within 30 s; see {log}")
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)


def get(host: str, port: int, path: str) -> tuple[int, bytes]:
    """One GET on a new connection."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def drop_database(admin_url: str, name: str) -> None:
    """Remove the benchmark database."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# --- load ---------------------------------------------------------------------------------------


def attack(port: int, clients: int, stop: Any, results: Any) -> None:
    """Attacker process: `clients` threads hammering login, each from its own address."""
    counts: Counter[int] = Counter()
    lock = threading.Lock()
    emails = itertools.count()

    def one(index: int) -> None:
        address = f"198.51.100.{index + 1}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            email = f"stuffed{next(emails)}-{index}@example.com"
            body = json.dumps({"user": {"email": email, "password": "not-the-password"}})
            headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
            try:
                connection.request("POST", "/api/users/login", body, headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                status = 0  # connection error
            with lock:
                counts[status] += 1

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=35)
    results.put(dict(counts))


def probe_for(port: int, seconds: float) -> dict[str, list[float]]:
    """Time the article list and /healthz, one after the other, for `seconds`; milliseconds."""
    timings: dict[str, list[float]] = {ARTICLES: [], HEALTH: []}
    errors: Counter[str] = Counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in (ARTICLES, HEALTH):
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                timings[path].append(elapsed)
            else:
                errors[path] += 1
        time.sleep(0.02)
    connection.close()
    if errors:
        print(f"probe errors: {dict(errors)}", file=sys.stderr)
    return timings


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def machine_load() -> str:
    """Load average and the busiest processes right now (what else was running)."""
    load = Path("/proc/loadavg").read_text().split()[:3]
    top = subprocess.run(
        ["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()[:6]
    busiest = ", ".join(" ".join(line.split()[::-1]) + "%" for line in top)
    return f"load average {' '.join(load)}; busiest: {busiest}"


def run_round(name: str, port: int, env: dict[str, str], args: argparse.Namespace) -> dict:
    """One server, idle then burst; the figures."""
    round_env = {**env, "RATELIMIT_ENABLED": "true" if name == "limits-on" else "false"}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with server(round_env, port, RESULTS / f"{stamp}-login-burst-{name}.log"):
        before = machine_load()
        idle = probe_for(port, args.idle)
        stop = multiprocessing.Event()
        results: Any = multiprocessing.Queue()
        attacker = multiprocessing.Process(target=attack, args=(port, args.clients, stop, results))
        started = time.monotonic()
        attacker.start()
        time.sleep(1)  # let every attacker connect and start
        during_load = machine_load()
        burst = probe_for(port, args.duration)
        stop.set()
        counts = results.get(timeout=60)
        attacker.join(timeout=60)
        elapsed = time.monotonic() - started
    figures = {
        "round": name,
        "settings": " ".join(args.env),
        "started": stamp,
        "load_before": before,
        "load_during": during_load,
        "attack_seconds": round(elapsed, 1),
        "login_statuses": counts,
        "logins_per_second": round(sum(counts.values()) / elapsed, 1),
        "hashes_per_second": round(counts.get(401, 0) / elapsed, 1),
    }
    for label, timings in (("idle", idle), ("burst", burst)):
        for path, key in ((ARTICLES, "articles"), (HEALTH, "healthz")):
            figures[f"{label}_{key}_n"] = len(timings[path])
            figures[f"{label}_{key}_p50"] = round(percentile(timings[path], 50), 1)
            figures[f"{label}_{key}_p99"] = round(percentile(timings[path], 99), 1)
    figures["articles_p99_ratio"] = round(
        figures["burst_articles_p99"] / figures["idle_articles_p99"], 2
    )
    return figures


def table(figures: dict) -> str:
    """A Markdown table of one round."""
    ratio = figures["articles_p99_ratio"]
    health = figures["burst_healthz_p99"]
    lines = [
        f"### {figures['round']} ({figures['started']}) {figures['settings']}".rstrip(),
        "",
        "| request | idle p50 ms | idle p99 ms | burst p50 ms | burst p99 ms | goal |",
        "|---|---:|---:|---:|---:|---|",
        f"| GET {ARTICLES} | {figures['idle_articles_p50']} | {figures['idle_articles_p99']} "
        f"| {figures['burst_articles_p50']} | {figures['burst_articles_p99']} "
        f"| p99 within 3x idle: {ratio}x {'met' if ratio <= 3 else 'MISSED'} |",
        f"| GET {HEALTH} | {figures['idle_healthz_p50']} | {figures['idle_healthz_p99']} "
        f"| {figures['burst_healthz_p50']} | {health} "
        f"| p99 < 100 ms: {'met' if health < 100 else 'MISSED'} |",
        "",
        f"Attackers: {figures['logins_per_second']} logins/s answered over "
        f"{figures['attack_seconds']} s, by status {figures['login_statuses']} "
        f"({figures['hashes_per_second']} password checks/s reached argon2: the 401s). "
        f"Samples: {figures['idle_articles_n']} idle, {figures['burst_articles_n']} burst.",
        "",
        f"Machine before: {figures['load_before']}.",
        f"Machine during: {figures['load_during']}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--database-name", default="conduit_login_burst")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle probing")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of burst")
    parser.add_argument("--rounds", nargs="+", choices=ROUNDS, default=list(ROUNDS))
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra server setting, e.g. --env ARGON2_WAIT_MS=0 (repeatable)",
    )
    args = parser.parse_args(argv)

    RESULTS.mkdir(exist_ok=True)
    port = args.port or free_port()
    database_url = fresh_database(args.admin_url, args.database_name)
    all_figures = []
    try:
        migrate(database_url)
        env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "PROXY_COUNT": "1",
            **dict(setting.split("=", 1) for setting in args.env),
        }
        with server({**env, "RATELIMIT_ENABLED": "false"}, port, RESULTS / "login-burst-seed.log"):
            seed(f"http://127.0.0.1:{port}", users=4, articles_per_user=10, comments=0)
        for name in args.rounds:
            figures = run_round(name, port, env, args)
            all_figures.append(figures)
            print(table(figures) + "\n", flush=True)
    finally:
        if not args.keep_database:
            drop_database(args.admin_url, args.database_name)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}-login-burst.json").write_text(json.dumps(all_figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
