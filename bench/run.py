"""Load benchmark: this app (Flask, gunicorn), its FastAPI variant (uvicorn) and the hand-written
reference, side by side on one PostgreSQL database seeded once, loaded with wrk.

    make bench                                   # the three servers on a fresh database
    make bench BENCH_ARGS="--duration 30 --concurrency 32"
    make bench BENCH_ARGS="--target http://127.0.0.1:9000"   # also measure another server

The servers run at once with the same budget: 2 worker processes each (WEB_CONCURRENCY), and
THREADS request threads per process (gunicorn's gthread threads; the variant's anyio thread
pool for its sync endpoints), each with a pool of THREADS connections. For every endpoint the
servers take turns (the order rotates per endpoint), so drift in the machine's load spreads over
all of them. Prints one table: requests/s, p50 and p99 latency, errors (status >= 400 plus
socket errors), SQL statements per request (counted in-process), CPU seconds per 1,000 requests
(all the server's processes), and a start-up table: cold start to first response and memory
per worker. Every process it starts is stopped before it exits; wrk runs are bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.seed import Seeded, seed

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "wrk.lua"
RESULTS = Path(__file__).resolve().parent / "results"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
REFERENCE_CONF = Path(__file__).resolve().parent / "gunicorn_reference.conf.py"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "conduit_bench"


@dataclass(frozen=True)
class Endpoint:
    """One row of the table: a request shape wrk repeats."""

    name: str
    method: str  # "FAVORITE" alternates POST and DELETE (see wrk.lua)
    path: str  # may name {slug} and {tag}
    auth: bool = False
    body: str = ""  # "article" or "comment": wrk.lua writes a fresh body per request
    write: bool = False
    needs_articles: bool = True

    def paths(self, seeded: Seeded) -> list[str]:
        """Concrete paths; the favorite row walks over every seeded article."""
        if "{slug}" in self.path and self.method == "FAVORITE":
            return [self.path.format(slug=slug, tag=seeded.tag) for slug in seeded.slugs]
        slug = seeded.commented_slug or ""
        return [self.path.format(slug=slug, tag=seeded.tag)]


READS = [
    Endpoint("list, anonymous", "GET", "/api/articles?limit=20"),
    Endpoint("list, reader", "GET", "/api/articles?limit=20", auth=True),
    Endpoint("list by tag, reader", "GET", "/api/articles?tag={tag}&limit=20", auth=True),
    Endpoint("feed, reader", "GET", "/api/articles/feed?limit=20", auth=True),
    Endpoint("article, reader", "GET", "/api/articles/{slug}", auth=True),
    Endpoint("comments, reader", "GET", "/api/articles/{slug}/comments", auth=True),
    Endpoint("tags", "GET", "/api/tags"),
    Endpoint("current user", "GET", "/api/user", auth=True, needs_articles=False),
]
WRITES = [
    Endpoint("create article", "POST", "/api/articles", auth=True, body="article", write=True),
    Endpoint(
        "favorite/unfavorite", "FAVORITE", "/api/articles/{slug}/favorite", auth=True, write=True
    ),
    Endpoint(
        "comment", "POST", "/api/articles/{slug}/comments", auth=True, body="comment", write=True
    ),
]
# The rows the hand-written reference serves, and which app row each is compared with.
REFERENCE = {
    "list, reader": Endpoint("list, reader", "GET", "/api/articles?limit=20", auth=True),
    "feed, reader": Endpoint("feed, reader", "GET", "/api/articles/feed?limit=20", auth=True),
}


@dataclass
class Result:
    """One measured row."""

    endpoint: str
    server: str = ""
    status: str = "ok"
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int | None = None
    requests: int | None = None
    sql: str = "n/a"
    cpu_per_1k: float | None = None
    round: int = 1


@dataclass
class Report:
    """Every row measured against one server."""

    server: str
    url: str
    rows: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Server:
    """A server this run started: its address, process group and start-up figures."""

    name: str
    url: str
    pid: int
    cold_start_s: float
    rss_mb: list[float] = field(default_factory=list)
    pss_mb: list[float] = field(default_factory=list)


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], started: float, timeout: float = 30.0
) -> float:
    """Block until the server answers an API request; the seconds since `started` (its cold
    start to first response). Fail if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            urllib.request.urlopen(url + "/api/tags", timeout=2).close()
            return time.monotonic() - started
        except urllib.error.HTTPError:
            return time.monotonic() - started  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"server at {url} did not answer within {timeout:.0f}s")


def group_pids(pgid: int) -> list[int]:
    """Every live process in the session we started (the server's master and workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == pgid:  # field 6 of stat: the session id
            pids.append(int(entry.name))
    return pids


def cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds used so far by the server's processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _cpu_ticks() -> tuple[int, int]:
    """The machine's (busy, total) CPU ticks so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def wait_for_quiet(limit: float = 10.0, busy_share: float = 0.25, step: float = 0.25) -> float:
    """Seconds waited (at most limit) until the machine is mostly idle: the previous row's
    server still draining its queue, or PostgreSQL settling, must not eat into the next row."""
    waited = 0.0
    while waited < limit:
        busy_before, total_before = _cpu_ticks()
        time.sleep(step)
        waited += step
        busy, total = _cpu_ticks()
        if total > total_before and (busy - busy_before) / (total - total_before) < busy_share:
            break
    return waited


def worker_memory(pgid: int) -> tuple[list[float], list[float]]:
    """RSS and PSS (MB) of each worker: the processes of the group other than its leader."""
    rss, pss = [], []
    for pid in sorted(group_pids(pgid)):
        if pid == pgid:
            continue
        with contextlib.suppress(OSError):
            if b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue  # multiprocessing's helper beside uvicorn's workers, not a worker
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        values = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:] if ":" in line}
        if "Rss" in values:
            rss.append(values["Rss"] / 1024)
            pss.append(values.get("Pss", 0) / 1024)
    return rss, pss


@contextlib.contextmanager
def serve(name: str, command: list[str], env: dict[str, str], log: Path) -> Iterator[Server]:
    """Start a server command (its own session), wait for its first answer, stop it after."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    with log.open("wb") as out:
        started = time.monotonic()
        # Its own session: the whole group (master and workers) is measured and signalled.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            cold = wait_until_up(url, process, started)
            yield Server(name, url, process.pid, cold)
        finally:
            stop(process)


def gunicorn_command(wsgi_app: str, args: argparse.Namespace, config: Path) -> list[str]:
    """gunicorn with the project's settings (config) at the run's worker and thread budget."""
    return [
        str(Path(sys.executable).with_name("gunicorn")),
        "--config", str(config),
        "--workers", str(args.workers),
        "--threads", str(args.threads),
        "--bind", "127.0.0.1:{port}",
        wsgi_app,
    ]  # fmt: skip


def uvicorn_command(args: argparse.Namespace) -> list[str]:
    """uvicorn serving the FastAPI variant with as many worker processes as gunicorn."""
    return [
        str(Path(sys.executable).with_name("uvicorn")),
        "fastapi_variant.main:app",
        "--host", "127.0.0.1",
        "--port", "{port}",
        "--workers", str(args.workers),
        "--no-access-log",
        "--log-level", "warning",
    ]  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group we started (graceful), SIGKILL it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    # Workers that outlived the arbiter would still be in its group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


# --- database -----------------------------------------------------------------------------------


def fresh_database(admin_url: str, name: str) -> str:
    """Drop and create the benchmark database; its SQLAlchemy URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


def migrate(database_url: str) -> None:
    """Bring the schema to head with the project's migrations."""
    from flask_migrate import upgrade

    from config import Config
    from webapp.app import create_app
    from webapp.extensions import db

    app = create_app(Config, {"SQLALCHEMY_DATABASE_URI": normalize(database_url)})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.session.remove()
        db.engine.dispose()


def analyze(database_url: str) -> None:
    """Refresh the planner's statistics after seeding, as autovacuum would on a live database
    (its first pass may come minutes later): every server then runs on the same, current plans."""
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("ANALYZE")


def normalize(url: str) -> str:
    """The project's URL normalization (psycopg 3 driver)."""
    from config import normalize_database_url

    return normalize_database_url(url)


# --- measuring ----------------------------------------------------------------------------------


def run_wrk(url: str, endpoint: Endpoint, seeded: Seeded, args: argparse.Namespace) -> Result:
    """One wrk run at fixed concurrency; the row for it."""
    env = {
        **os.environ,
        "BENCH_METHOD": endpoint.method,
        "BENCH_PATHS": " ".join(endpoint.paths(seeded)),
        "BENCH_TOKEN": (seeded.writer_token if endpoint.write else seeded.reader_token)
        if endpoint.auth
        else "",
        "BENCH_BODY": endpoint.body,
    }
    command = [
        "wrk",
        f"--threads={min(args.wrk_threads, args.concurrency)}",
        f"--connections={args.concurrency}",
        f"--duration={args.duration}s",
        "--timeout=10s",
        f"--script={LUA}",
        url + endpoint.paths(seeded)[0],
    ]
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=args.duration + 60, check=False
    )
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if completed.returncode != 0 or line is None:
        return Result(endpoint.name, status=f"wrk failed: {completed.stderr.strip()[:200]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(
        data[key]
        for key in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return Result(
        endpoint.name,
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
        requests=data["requests"],
    )


def probe(url: str, endpoint: Endpoint, seeded: Seeded) -> int:
    """The status of one request of this shape (404: the server does not have the route)."""
    from bench.seed import Client

    client = Client(url)
    try:
        method = "POST" if endpoint.method == "FAVORITE" else endpoint.method
        body = sample_body(endpoint)
        token = seeded.writer_token if endpoint.write else seeded.reader_token
        status, _ = client.request(
            method, endpoint.paths(seeded)[0], body, token if endpoint.auth else None
        )
        return status
    finally:
        client.close()


def sample_body(endpoint: Endpoint) -> dict[str, Any] | None:
    """A request body like the ones wrk.lua sends."""
    if endpoint.body == "article":
        tag_list = ["bench", "load"]
        article = {"title": f"Probe {secrets.token_hex(4)}", "description": "d", "body": "b"}
        return {"article": {**article, "tagList": tag_list}}
    if endpoint.body == "comment":
        return {"comment": {"body": "Probe comment"}}
    return None


def count_statements(client: Any, statements: list[str], seeded: Seeded) -> dict[str, str]:
    """SQL statements per request for every row, through an in-process client of one app."""
    counts = {}
    for endpoint in READS + WRITES:
        if endpoint.needs_articles and not seeded.has_articles:
            continue
        token = seeded.writer_token if endpoint.write else seeded.reader_token
        headers = {"Authorization": f"Token {token}"} if endpoint.auth else {}
        method = "POST" if endpoint.method == "FAVORITE" else endpoint.method
        path = endpoint.paths(seeded)[0]
        client.request(method, path, headers=headers, json=sample_body(endpoint))  # warm up
        statements.clear()
        response = client.request(method, path, headers=headers, json=sample_body(endpoint))
        counts[endpoint.name] = (
            str(len(statements)) if response.status_code < 400 else f"({response.status_code})"
        )
    return counts


class _FlaskClient:
    """The Flask test client with the call shape count_statements uses."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.open(path, method=method, **kwargs)


def flask_statements(database_url: str, secret_key: str, seeded: Seeded) -> dict[str, str]:
    """Statements per request of the Flask app, on the benchmark database."""
    from sqlalchemy import event

    from config import Config
    from webapp.app import create_app
    from webapp.extensions import db

    app = create_app(
        Config, {"SQLALCHEMY_DATABASE_URI": normalize(database_url), "SECRET_KEY": secret_key}
    )
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        return count_statements(_FlaskClient(app), statements, seeded)
    finally:
        engine.dispose()


def fastapi_statements(env: dict[str, str], seeded: Seeded) -> dict[str, str]:
    """Statements per request of the FastAPI variant: counted in a child process, because the
    variant reads its settings (the benchmark database) once, when it is imported."""
    code = (
        "import json, sys\n"
        "from sqlalchemy import event\n"
        "from fastapi.testclient import TestClient\n"
        "from fastapi_variant.main import app\n"
        "from fastapi_variant.database import engine\n"
        "from bench.run import count_statements\n"
        "from bench.seed import Seeded\n"
        "seeded = Seeded(**json.loads(sys.stdin.read()))\n"
        "statements = []\n"
        "event.listen(engine, 'before_cursor_execute', lambda *a: statements.append(a[2]))\n"
        "print(json.dumps(count_statements(TestClient(app), statements, seeded)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        input=json.dumps(asdict(seeded)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        return {endpoint.name: "?" for endpoint in READS + WRITES}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_one(
    server: Server, endpoint: Endpoint, seeded: Seeded, args: argparse.Namespace
) -> Result:
    """Probe, then load one endpoint of one server; CPU used by all of its processes."""
    wait_for_quiet()
    status = probe(server.url, endpoint, seeded)
    if status in (404, 405):
        return Result(endpoint.name, server.name, status=f"not served ({status})")
    print(
        f"  {endpoint.name}: {server.name} ({args.duration}s, {args.concurrency} connections)",
        file=sys.stderr,
        flush=True,
    )
    cpu_before = cpu_seconds(server.pid)
    result = run_wrk(server.url, endpoint, seeded, args)
    cpu = cpu_seconds(server.pid) - cpu_before
    result.server = server.name
    if status >= 400:
        result.status = f"probe answered {status}"
    if result.requests:
        result.cpu_per_1k = cpu / result.requests * 1000
    return result


def measure_side_by_side(
    servers: list[Server],
    endpoints: list[Endpoint],
    seeded: Seeded,
    args: argparse.Namespace,
    sql_counts: dict[str, dict[str, str]],
    round_: int = 1,
) -> list[Result]:
    """Every endpoint on every server, servers taking turns (order rotated per endpoint and
    round, so no server always goes first)."""
    results = []
    for index, endpoint in enumerate(endpoints):
        if endpoint.needs_articles and not seeded.has_articles:
            continue
        # The reference answers only the rows it is compared on (it ignores filters).
        serving = [s for s in servers if s.name != REFERENCE_NAME or endpoint.name in REFERENCE]
        turn = (index + round_ - 1) % len(serving)
        for server in serving[turn:] + serving[:turn]:
            result = measure_one(server, endpoint, seeded, args)
            result.sql = sql_counts.get(server.name, {}).get(endpoint.name, "n/a")
            result.round = round_
            results.append(result)
    return results


def selected(endpoints: list[Endpoint], args: argparse.Namespace) -> list[Endpoint]:
    """The endpoints --only names (all of them without --only)."""
    if not args.only:
        return endpoints
    return [endpoint for endpoint in endpoints if endpoint.name in args.only]


def measure(
    name: str, url: str, seeded: Seeded, endpoints: list[Endpoint], args: argparse.Namespace
) -> list[Result]:
    """Every endpoint of a server this run did not start (a --target)."""
    server = Server(name, url, pid=-1, cold_start_s=float("nan"))
    results = []
    for endpoint in endpoints:
        if endpoint.needs_articles and not seeded.has_articles:
            continue
        status = probe(url, endpoint, seeded)
        if status in (404, 405):
            results.append(Result(endpoint.name, name, status=f"not served ({status})"))
            continue
        result = run_wrk(server.url, endpoint, seeded, args)
        result.server = name
        results.append(result)
    return results


# --- output -------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for the table, or a dash."""
    return "-" if value is None else f"{value:,.{digits}f}"


def results_table(results: list[Result], baseline: str) -> str:
    """One Markdown table, endpoint by endpoint; req/s and p99 also as a ratio to `baseline`."""
    by_endpoint: dict[tuple[str, int], dict[str, Result]] = {}
    for row in results:
        by_endpoint.setdefault((row.endpoint, row.round), {})[row.server] = row
    rounds = len({row.round for row in results}) > 1
    lines = [
        f"| endpoint{' (round)' if rounds else ''} | server | req/s | p50 ms | p99 ms | errors "
        f"| SQL/req | CPU s/1k req | vs {baseline} (req/s, p99) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for (name, round_), rows in by_endpoint.items():
        endpoint = f"{name} ({round_})" if rounds else name
        base = rows.get(baseline)
        for server, row in rows.items():
            if row.status.startswith("not served"):
                continue  # the reference serves only the rows it is compared on
            if row.rps is None:
                lines.append(f"| {endpoint} | {server} | {row.status} | | | | | | |")
                continue
            ratio = ""
            if base and base.rps and base.p99_ms and row.p99_ms and server != baseline:
                ratio = f"{row.rps / base.rps:.2f}x, {row.p99_ms / base.p99_ms:.2f}x"
            note = "" if row.status == "ok" else f" ({row.status})"
            lines.append(
                f"| {endpoint} | {server}{note} | {fmt(row.rps)} | {fmt(row.p50_ms, 2)} "
                f"| {fmt(row.p99_ms, 2)} | {row.errors} | {row.sql} | {fmt(row.cpu_per_1k, 2)} "
                f"| {ratio} |"
            )
    return "\n".join(lines)


def goal_table(results: list[Result]) -> str:
    """Issue 12's goal, round by round: Flask against the reference on the rows it serves."""
    lines = [
        "| endpoint | round | Flask req/s | reference req/s | ratio (goal >= 0.8) "
        "| Flask p99 ms | reference p99 ms | ratio (goal <= 1.5) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = {(r.endpoint, r.round, r.server): r for r in results}
    for (endpoint, round_, server), app in rows.items():
        ref = rows.get((endpoint, round_, REFERENCE_NAME))
        if server != FLASK or ref is None or not (app.rps and ref.rps):
            continue
        if app.p99_ms is None or not ref.p99_ms:
            continue
        lines.append(
            f"| {endpoint} | {round_} | {fmt(app.rps)} | {fmt(ref.rps)} "
            f"| {app.rps / ref.rps:.2f} | {fmt(app.p99_ms, 2)} | {fmt(ref.p99_ms, 2)} "
            f"| {app.p99_ms / ref.p99_ms:.2f} |"
        )
    return "\n".join(lines) if len(lines) > 2 else ""


def servers_table(servers: list[Server]) -> str:
    """Start-up and memory: cold start to first response, RSS and PSS per worker after the load."""
    lines = [
        "| server | cold start to first response s | RSS per worker MB | PSS per worker MB |",
        "|---|---:|---|---|",
    ]
    for server in servers:
        rss = ", ".join(f"{v:.0f}" for v in server.rss_mb) or "-"
        pss = ", ".join(f"{v:.0f}" for v in server.pss_mb) or "-"
        lines.append(f"| {server.name} | {server.cold_start_s:.2f} | {rss} | {pss} |")
    return "\n".join(lines)


FLASK = "Flask (gunicorn)"
FASTAPI = "FastAPI variant (uvicorn)"
REFERENCE_NAME = "reference (one SQL statement)"


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run the servers side by side, print the tables, save the raw results."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint (10)")
    parser.add_argument("--concurrency", type=int, default=16, help="open connections (16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--workers", type=int, default=2, help="processes per server (2)")
    parser.add_argument("--threads", type=int, default=4, help="request threads per process (4)")
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="URL",
        help="another Conduit server (origin, paths start with /api); repeatable",
    )
    parser.add_argument("--skip-local", action="store_true", help="measure only the --target(s)")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the hand-written reference"
    )
    parser.add_argument("--no-fastapi", action="store_true", help="skip the FastAPI variant")
    parser.add_argument("--reads-only", action="store_true", help="skip the write endpoints")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="reads measured this many times, servers alternating (1)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help='measure only this row (its name, e.g. "feed, reader"); repeatable',
    )
    parser.add_argument("--users", type=int, default=10, help="seeded authors (10)")
    parser.add_argument(
        "--articles-per-user", type=int, default=10, help="seeded articles each (10)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL database for the servers (default: a fresh one, see below)",
    )
    parser.add_argument(
        "--admin-url",
        default=DEFAULT_ADMIN_URL,
        help="maintenance database used to create the fresh one",
    )
    parser.add_argument(
        "--database-name",
        default=DEFAULT_DATABASE,
        help=f"the fresh database's name ({DEFAULT_DATABASE}); dropped first",
    )
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the server context managers stop their servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: apt-get install wrk")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results: list[Result] = []
    servers: list[Server] = []

    if not args.skip_local:
        database_url = args.database_url or fresh_database(args.admin_url, args.database_name)
        print(f"database: {database_url.rsplit('@', 1)[-1]}", file=sys.stderr)
        migrate(database_url)
        secret_key = secrets.token_urlsafe(48)
        env = {
            "APP_ENV": "production",
            "SECRET_KEY": secret_key,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": str(args.workers),
            "THREADS": str(args.threads),
            # One connection per request thread, as gunicorn.conf.py sizes the Flask app's pool.
            "DB_POOL_SIZE": str(args.threads),
            "DB_MAX_OVERFLOW": "0",
            # Workers are not recycled mid-run: their CPU and memory are what is measured.
            "GUNICORN_MAX_REQUESTS": "0",
            # No server logs each request: the variant runs with uvicorn's --no-access-log.
            "GUNICORN_ACCESS_LOG": "false",
            # The seeding and the write rows would spend every rate limit in seconds.
            "RATELIMIT_ENABLED": "false",
        }
        with contextlib.ExitStack() as stack:
            log = RESULTS / stamp
            flask = stack.enter_context(
                serve(
                    FLASK,
                    gunicorn_command("wsgi:app", args, GUNICORN_CONF),
                    env,
                    Path(f"{log}-app.log"),
                )
            )
            servers.append(flask)
            print(f"seeding through {flask.url}", file=sys.stderr)
            seeded = seed(flask.url, users=args.users, articles_per_user=args.articles_per_user)
            analyze(database_url)
            sql_counts = {FLASK: flask_statements(database_url, secret_key, seeded)}
            if not args.no_fastapi:
                servers.append(
                    stack.enter_context(
                        serve(FASTAPI, uvicorn_command(args), env, Path(f"{log}-fastapi.log"))
                    )
                )
                sql_counts[FASTAPI] = fastapi_statements(env, seeded)
            if seeded.has_articles and not args.no_reference:
                ref_env = {**env, "DATABASE_URL": database_url}
                command = gunicorn_command("bench.reference:app", args, REFERENCE_CONF)
                servers.append(
                    stack.enter_context(
                        serve(REFERENCE_NAME, command, ref_env, Path(f"{log}-reference.log"))
                    )
                )
                sql_counts[REFERENCE_NAME] = dict.fromkeys(REFERENCE, "1")
            # Reads first, every round, writes last, so the writes cannot skew the reads.
            for round_ in range(1, args.rounds + 1):
                results += measure_side_by_side(
                    servers, selected(READS, args), seeded, args, sql_counts, round_
                )
            if not args.reads_only:
                results += measure_side_by_side(
                    servers, selected(WRITES, args), seeded, args, sql_counts
                )
            for server in servers:
                server.rss_mb, server.pss_mb = worker_memory(server.pid)

    for target in args.target:
        target = target.rstrip("/")
        print(f"seeding {target}", file=sys.stderr)
        seeded = seed(target, users=args.users, articles_per_user=args.articles_per_user)
        endpoints = selected(READS + ([] if args.reads_only else WRITES), args)
        results += measure(target, target, seeded, endpoints, args)

    header = (
        f"wrk: {args.concurrency} connections, {args.duration}s per endpoint and server; "
        f"{args.workers} processes x {args.threads} request threads per server; "
        "errors = responses >= 400 + socket errors; SQL/req counted in-process"
    )
    tables = [header, results_table(results, FLASK), goal_table(results), servers_table(servers)]
    print("\n\n".join(table for table in tables if table))
    saved = RESULTS / f"{stamp}.json"
    saved.write_text(
        json.dumps(
            {
                "args": vars(args),
                "results": [asdict(r) for r in results],
                "servers": [asdict(s) for s in servers],
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nraw results: {saved.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
