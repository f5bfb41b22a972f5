"""What a deep page costs next to page 1: in-process requests against a large seeded database.

    .venv/bin/python -m bench.deep_offset \
        --database-url postgresql://postgres@127.0.0.1:5432/conduit_bench_deep --seed 100000

With --seed N an empty database is migrated and filled by `flask seed --articles N` first (which
ends with ANALYZE). Each page is requested --rounds times through the Flask test client, one
process, one thread, in interleaved order (so load on the machine hits every case alike); the
table gives the median and the slowest round in milliseconds, and each median divided by page 1's
(the goal: past the end at most 10x page 1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event

from config import Config
from webapp.app import create_app
from webapp.cli import seed
from webapp.core import security
from webapp.core.models import Article, Tag, User
from webapp.extensions import db


def cases(total: int, tag: str) -> list[tuple[str, str]]:
    """(name, path) of the pages compared, page 1 first."""
    last = max(total - 20, 0)
    return [
        ("page 1", "/api/articles?limit=20"),
        ("offset 1,000", "/api/articles?limit=20&offset=1000"),
        ("middle", f"/api/articles?limit=20&offset={total // 2}"),
        ("last page", f"/api/articles?limit=20&offset={last}"),
        ("past the end", f"/api/articles?limit=20&offset={total + 1000}"),
        ("tag, page 1", f"/api/articles?limit=20&tag={tag}"),
        ("tag, past the end", f"/api/articles?limit=20&tag={tag}&offset={total + 1000}"),
    ]


def timed(client: FlaskClient, path: str, headers: dict[str, str]) -> float:
    """Milliseconds one request takes."""
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.get_json()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Seed if asked, then time each page for an anonymous and a signed-in reader."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--seed", type=int, default=0, help="articles to seed into an empty db")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")

    app = create_app(Config, {"SQLALCHEMY_DATABASE_URI": args.database_url})
    with app.app_context():
        if args.seed:
            upgrade()
            if db.session.scalar(db.select(db.func.count()).select_from(User)) == 0:
                result = app.test_cli_runner().invoke(
                    seed, ["--users", "1000", "--articles", str(args.seed)]
                )
                print(result.output.strip())
        total = db.session.scalar(db.select(db.func.count()).select_from(Article)) or 0
        tag = db.session.scalar(db.select(Tag.name).order_by(Tag.id).limit(1)) or "none"
        reader = db.session.scalar(db.select(User.id).order_by(User.id).limit(1))
        token = security.encode_token(reader, app.config["SECRET_KEY"], timedelta(hours=1))
        engine = db.engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    client: FlaskClient = app.test_client()
    readers: dict[str, dict[str, str]] = {
        "anonymous": {},
        "signed in": {"Authorization": f"Token {token}"},
    }
    pages = cases(total, tag)
    print(f"{total} articles; {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}")
    for reader_name, headers in readers.items():
        times: dict[str, list[float]] = {name: [] for name, _ in pages}
        counts: dict[str, int] = {}
        for name, path in pages:  # warm-up, and the statements each request issues
            statements.clear()
            response = client.get(path, headers=headers)
            assert response.status_code == 200, response.get_json()
            counts[name] = len(statements)
        for _ in range(args.rounds):
            for name, path in pages:
                times[name].append(timed(client, path, headers))
        base = statistics.median(times["page 1"])
        print(f"\n{reader_name}:")
        print("| page | median ms | slowest ms | x page 1 | SQL statements |")
        print("|---|---:|---:|---:|---:|")
        for name, _ in pages:
            median = statistics.median(times[name])
            print(
                f"| {name} | {median:.1f} | {max(times[name]):.1f} | {median / base:.1f} "
                f"| {counts[name]} |"
            )
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
