"""Load benchmark: this app under gunicorn on PostgreSQL, the hand-written reference, and any
other Conduit server given with --target, all seeded the same way and loaded with wrk.

    make bench                                   # this app + reference on a fresh database
    make bench BENCH_ARGS="--duration 30 --concurrency 32"
    make bench BENCH_ARGS="--target http://127.0.0.1:8001"   # also measure another server

Prints one table per server: requests/s, p50 and p99 latency, errors (status >= 400 plus socket
errors) and SQL statements per request (counted in-process for this app; n/a for a target).
Every process it starts is stopped before it exits; wrk runs are bounded by --duration.
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
    status: str = "ok"
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int | None = None
    requests: int | None = None
    sql: str = "n/a"


@dataclass
class Report:
    """Every row measured against one server."""

    server: str
    url: str
    rows: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Block until the server answers any HTTP request; fail if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            urllib.request.urlopen(url + "/api/openapi.json", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not answer within {timeout:.0f}s")


@contextlib.contextmanager
def gunicorn(
    wsgi_app: str,
    env: dict[str, str],
    args: argparse.Namespace,
    log: Path,
    config: Path = GUNICORN_CONF,
) -> Iterator[str]:
    """Serve wsgi_app under gunicorn on a free loopback port; stop it (and its workers) after.

    With the project's gunicorn.conf.py when there is one (config names the file to pass: the
    reference gets a copy without the app's hooks), else 2 gthread workers of 4 threads.
    """
    port = free_port()
    command = [str(Path(sys.executable).with_name("gunicorn"))]
    if GUNICORN_CONF.exists():
        command += ["--config", str(config)]
    else:
        command += ["--worker-class", "gthread"]
    if args.workers or not GUNICORN_CONF.exists():
        command += ["--workers", str(args.workers or 2)]
    if args.threads or not GUNICORN_CONF.exists():
        command += ["--threads", str(args.threads or 4)]
    command += ["--bind", f"127.0.0.1:{port}", wsgi_app]
    with log.open("wb") as out:
        # Its own session: the whole group (arbiter and workers) is signalled at the end.
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
            wait_until_up(url, process)
            yield url
        finally:
            stop(process)


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
    from webapp import create_app
    from webapp.extensions import db

    app = create_app(Config, {"SQLALCHEMY_DATABASE_URI": normalize(database_url)})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.session.remove()
        db.engine.dispose()


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


def count_statements(database_url: str, secret_key: str, seeded: Seeded) -> dict[str, str]:
    """SQL statements per request for every row, counted in-process on the same database."""
    from sqlalchemy import event

    from config import Config
    from webapp import create_app
    from webapp.extensions import db

    app = create_app(
        Config, {"SQLALCHEMY_DATABASE_URI": normalize(database_url), "SECRET_KEY": secret_key}
    )
    client = app.test_client()
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    counts = {}
    try:
        for endpoint in READS + WRITES:
            if endpoint.needs_articles and not seeded.has_articles:
                continue
            token = seeded.writer_token if endpoint.write else seeded.reader_token
            headers = {"Authorization": f"Token {token}"} if endpoint.auth else {}
            method = "POST" if endpoint.method == "FAVORITE" else endpoint.method
            path = endpoint.paths(seeded)[0]
            client.open(path, method=method, headers=headers, json=sample_body(endpoint))  # warm
            statements.clear()
            response = client.open(path, method=method, headers=headers, json=sample_body(endpoint))
            counts[endpoint.name] = (
                str(len(statements)) if response.status_code < 400 else f"({response.status_code})"
            )
    finally:
        with app.app_context():
            db.engine.dispose()
    return counts


def measure(
    name: str,
    url: str,
    seeded: Seeded,
    endpoints: list[Endpoint],
    args: argparse.Namespace,
    sql_counts: dict[str, str] | None,
) -> Report:
    """Probe then load every endpoint of one server; reads first, so writes cannot skew them."""
    report = Report(name, url, notes=list(seeded.notes))
    for endpoint in endpoints:
        if endpoint.needs_articles and not seeded.has_articles:
            report.rows.append(Result(endpoint.name, status="not measured: no articles seeded"))
            continue
        status = probe(url, endpoint, seeded)
        if status in (404, 405):
            report.rows.append(Result(endpoint.name, status=f"not served ({status})"))
            continue
        if status >= 400:
            report.notes.append(f"{endpoint.name}: probe answered {status}")
        print(
            f"  {name}: {endpoint.name} ({args.duration}s, {args.concurrency} connections)",
            file=sys.stderr,
            flush=True,
        )
        result = run_wrk(url, endpoint, seeded, args)
        result.sql = (sql_counts or {}).get(endpoint.name, "n/a")
        report.rows.append(result)
    return report


# --- output -------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for the table, or a dash."""
    return "-" if value is None else f"{value:,.{digits}f}"


def table(report: Report, reference: Report | None) -> str:
    """The report as a Markdown table; rows the reference serves get a ratio column."""
    ref_rows = {row.endpoint: row for row in reference.rows} if reference else {}
    lines = [
        f"### {report.server} ({report.url})",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | errors | SQL/req | vs reference (req/s, p99) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in report.rows:
        if row.status != "ok":
            lines.append(f"| {row.endpoint} | {row.status} | | | | | |")
            continue
        ratio = ""
        ref = ref_rows.get(row.endpoint)
        if ref and ref.rps and row.rps and ref.p99_ms and row.p99_ms:
            ratio = f"{row.rps / ref.rps:.2f}x, {row.p99_ms / ref.p99_ms:.2f}x"
        lines.append(
            f"| {row.endpoint} | {fmt(row.rps)} | {fmt(row.p50_ms, 2)} | {fmt(row.p99_ms, 2)} "
            f"| {row.errors} | {row.sql} | {ratio} |"
        )
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run every server, print the tables, save the raw results."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint (10)")
    parser.add_argument("--concurrency", type=int, default=16, help="open connections (16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (gunicorn.conf.py, else 2)")
    parser.add_argument("--threads", type=int, help="gunicorn threads (gunicorn.conf.py, else 4)")
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
    parser.add_argument("--reads-only", action="store_true", help="skip the write endpoints")
    parser.add_argument("--users", type=int, default=10, help="seeded authors (10)")
    parser.add_argument(
        "--articles-per-user", type=int, default=10, help="seeded articles each (10)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL database for this app (default: a fresh one, see below)",
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
    # SIGTERM unwinds like Ctrl-C, so the gunicorn context managers stop their servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: apt-get install wrk")
    endpoints = READS + ([] if args.reads_only else WRITES)
    reports: list[Report] = []
    reference: Report | None = None
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

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
            # The seeding and the write rows would spend every rate limit in seconds.
            "RATELIMIT_ENABLED": "false",
        }
        with gunicorn("wsgi:app", env, args, RESULTS / f"{stamp}-app.log") as url:
            print(f"seeding this app at {url}", file=sys.stderr)
            seeded = seed(url, users=args.users, articles_per_user=args.articles_per_user)
            sql_counts = count_statements(database_url, secret_key, seeded)
            app_report = measure("this app (Flask)", url, seeded, READS, args, sql_counts)
        if seeded.has_articles and not args.no_reference:
            ref_env = {"SECRET_KEY": secret_key, "DATABASE_URL": database_url}
            with gunicorn(
                "bench.reference:app",
                ref_env,
                args,
                RESULTS / f"{stamp}-reference.log",
                config=REFERENCE_CONF,
            ) as ref_url:
                reference = measure(
                    "hand-written reference (one SQL statement)",
                    ref_url,
                    seeded,
                    list(REFERENCE.values()),
                    args,
                    dict.fromkeys(REFERENCE, "1"),
                )
        if not args.reads_only:
            # Writes last, on a fresh server, after every read (and the reference) was measured.
            with gunicorn("wsgi:app", env, args, RESULTS / f"{stamp}-app-writes.log") as url:
                app_report.rows += measure(
                    "this app (Flask)", url, seeded, WRITES, args, sql_counts
                ).rows
        reports.append(app_report)

    for target in args.target:
        target = target.rstrip("/")
        print(f"seeding {target}", file=sys.stderr)
        seeded = seed(target, users=args.users, articles_per_user=args.articles_per_user)
        reports.append(measure(target, target, seeded, endpoints, args, None))

    tables = [table(report, reference) for report in reports]
    if reference:
        tables.append(table(reference, None))
    header = (
        f"wrk: {args.concurrency} connections, {args.duration}s per endpoint; "
        f"errors = responses >= 400 + socket errors; SQL/req counted in-process (n/a for targets)"
    )
    print("\n\n".join([header, *tables]))
    saved = RESULTS / f"{stamp}.json"
    saved.write_text(
        json.dumps(
            {
                "args": vars(args),
                "reports": [asdict(r) for r in reports],
                "reference": asdict(reference) if reference else None,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nraw results: {saved.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
