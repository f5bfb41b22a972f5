"""Where a request's time goes: cProfile over in-process requests, summed by library.

    .venv/bin/python -m bench.profile --database-url postgresql://.../conduit_bench \
        --path "/api/articles?limit=20" --reader bench-reader

Run it after `make bench` (which leaves its seeded database behind). The app and the reference
are measured the same way: N requests through a WSGI test client, one process, one thread, so
the numbers are CPU per request without wrk, gunicorn or the network.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from werkzeug.test import Client

# Library folders a frame's file path is attributed to; anything else is "other".
LIBRARIES = (
    "sqlalchemy",
    "psycopg",
    "marshmallow",
    "flask_smorest",
    "webargs",
    "apispec",
    "flask_sqlalchemy",
    "flask",
    "werkzeug",
    "jwt",
    "json",
    "webapp",
    "webapp.core",
    "bench",
)


def library(filename: str) -> str:
    """The library a source file belongs to."""
    parts = filename.replace("\\", "/").split("/")
    for name in LIBRARIES:
        if name in parts:
            return name
    return "python/other"


def by_library(stats: pstats.Stats) -> dict[str, float]:
    """Own time (tottime) per library, in seconds."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, _func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        totals[library(filename)] += tottime
    return dict(totals)


def timed(client: Client, path: str, headers: dict[str, str], count: int) -> float:
    """Seconds per request over count requests (after a warm-up)."""
    for _ in range(20):
        client.get(path, headers=headers).close()
    start = time.perf_counter()
    for _ in range(count):
        client.get(path, headers=headers).close()
    return (time.perf_counter() - start) / count


def main(argv: list[str] | None = None) -> int:
    """Profile the app (and the reference) on one read path."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--path", default="/api/articles?limit=20")
    parser.add_argument("--reader", default="bench-reader", help="username whose token is sent")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25, help="functions listed by cumulative time")
    args = parser.parse_args(argv)

    from config import Config, normalize_database_url
    from webapp.app import create_app
    from webapp.core import security
    from webapp.core.models import User
    from webapp.extensions import db

    secret = "profile-secret-key-that-is-long-enough-for-hs256"
    url = normalize_database_url(args.database_url)
    app = create_app(Config, {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret})
    with app.app_context():
        user_id = db.session.scalar(db.select(User.id).filter_by(username=args.reader))
        db.session.remove()
    if user_id is None:
        parser.error(f"no user {args.reader!r} in that database: run make bench first")
    token = security.encode_token(user_id, secret, timedelta(hours=1))
    headers = {"Authorization": f"Token {token}"}

    os.environ["DATABASE_URL"] = url
    os.environ["SECRET_KEY"] = secret
    from bench import reference

    results: dict[str, Any] = {}
    targets: list[tuple[str, Any]] = [("app", app)]
    if args.path.split("?")[0] in ("/api/articles", "/api/articles/feed"):
        targets.append(("reference", reference.app))  # it serves only these two
    for name, wsgi in targets:
        client = Client(wsgi)
        per_request = timed(client, args.path, headers, args.requests)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            client.get(args.path, headers=headers).close()
        profiler.disable()
        stats = pstats.Stats(profiler)
        results[name] = (per_request, stats)

    for name, (per_request, stats) in results.items():
        print(f"\n## {name}: {per_request * 1000:.2f} ms per request (unprofiled, in-process)")
        totals = by_library(stats)
        whole = sum(totals.values())
        print("own time by library (profiled):")
        for lib, seconds in sorted(totals.items(), key=lambda item: -item[1]):
            share = 100 * seconds / whole
            print(f"  {lib:18} {1000 * seconds / args.requests:7.3f} ms/request  {share:5.1f}%")
        if name == "app" and args.top > 0:
            print(f"\ntop {args.top} functions by cumulative time:")
            stats.sort_stats("cumulative").print_stats(args.top)
    if "reference" in results:
        ratio = results["app"][0] / results["reference"][0]
        print(f"\napp / reference CPU per request: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
