"""Command-line tools: `flask seed` fills an empty database with deterministic demo data."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import delete, insert

from webapp.core import security
from webapp.core.models import (
    Article,
    ArticleTag,
    Comment,
    Favorite,
    Follow,
    Tag,
    User,
    username_key,
)

from . import auth
from .extensions import db

# Every seeded account logs in with this password (documented in the README).
DEMO_PASSWORD = "conduit-demo"
# Seeded timestamps count from here, so the same seed gives the same data on every run.
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

WORDS = (  # noqa: SIM905 - a paragraph of words reads better than a 36-line list
    "flask python postgres query index cache deploy worker thread pool schema migration token "
    "request response session commit rollback signal timeout replica backup latency profile "
    "feed article comment tag follow favorite review release design pattern testing fixture"
).split()
SENTENCES = (
    "Measure before you optimise.",
    "Every query states what it loads.",
    "A request owns its transaction and commits once.",
    "Indexes serve the lists readers actually ask for.",
    "Errors are raised where they happen and rendered in one place.",
    "Small pools and short timeouts keep a struggling database reachable.",
    "Migrations are reviewed code, not generated noise.",
    "Tests arrange their data through the API a user would call.",
)


def _chunks(count: int, size: int) -> Iterator[range]:
    """range(count) in consecutive slices of at most size."""
    for start in range(0, count, size):
        yield range(start, min(start + size, count))


def _title(rng: random.Random) -> list[str]:
    """Three to six lower-case words."""
    return rng.sample(WORDS, rng.randint(3, 6))


def _text(rng: random.Random, low: int, high: int) -> str:
    """low..high sentences."""
    return " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(low, high)))


def is_empty() -> bool:
    """Whether the database holds no users and no tags (so no articles either)."""
    return db.session.scalar(db.select(User.id).limit(1)) is None and (
        db.session.scalar(db.select(Tag.id).limit(1)) is None
    )


def delete_everything() -> None:
    """Delete every row of every table, children first, in one transaction."""
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(delete(table))
    db.session.commit()


def _insert_returning_ids(
    model: type[User | Article | Tag], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Bulk insert rows and return their new ids, in the rows' order."""
    stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(db.session.scalars(stmt, rows))


def seed_users(rng: random.Random, count: int, password_hash: str, batch: int) -> list[int]:
    """count users named user1..userN; one transaction per batch."""
    ids: list[int] = []
    for chunk in _chunks(count, batch):
        rows = []
        for i in chunk:
            created = EPOCH + timedelta(hours=i)
            rows.append(
                {
                    "username": f"user{i + 1}",
                    # A bulk insert bypasses the model's validator that keeps the key in step.
                    "username_key": username_key(f"user{i + 1}"),
                    "email": f"user{i + 1}@example.com",
                    "password_hash": password_hash,
                    "bio": _text(rng, 0, 2),
                    "image": "",
                    "created_at": created,
                    "updated_at": created,
                }
            )
        ids += _insert_returning_ids(User, rows)
        db.session.commit()
    return ids


def seed_follows(rng: random.Random, user_ids: list[int], most: int, batch: int) -> int:
    """Each user follows 0..most distinct other users."""
    total = 0
    for chunk in _chunks(len(user_ids), batch):
        rows = []
        for i in chunk:
            me = user_ids[i]
            wanted = min(rng.randint(0, most), len(user_ids) - 1)
            # One pick more than wanted, so dropping the user themself still leaves enough.
            picks = rng.sample(user_ids, min(wanted + 1, len(user_ids)))
            others = [other for other in picks if other != me][:wanted]
            rows += [{"follower_id": me, "followed_id": o, "created_at": EPOCH} for o in others]
        if rows:
            db.session.execute(insert(Follow), rows)
        db.session.commit()
        total += len(rows)
    return total


def seed_tags(count: int) -> list[int]:
    """count distinct tag names (words first, then numbered)."""
    names = [WORDS[i] if i < len(WORDS) else f"{WORDS[i % len(WORDS)]}{i}" for i in range(count)]
    if not names:
        return []
    ids = _insert_returning_ids(Tag, [{"name": name} for name in names])
    db.session.commit()
    return ids


def seed_articles(
    rng: random.Random,
    count: int,
    user_ids: list[int],
    tag_ids: list[int],
    most_favorites: int,
    most_comments: int,
    batch: int,
) -> dict[str, int]:
    """count articles with their tags, favorites and comments; one transaction per batch."""
    totals = {"articles": 0, "favorites": 0, "comments": 0, "article_tags": 0}
    for chunk in _chunks(count, batch):
        articles: list[dict[str, Any]] = []
        authors: list[int] = []
        for n in chunk:
            words = _title(rng)
            created = EPOCH + timedelta(minutes=n)
            authors.append(rng.choice(user_ids))
            articles.append(
                {
                    "slug": "-".join(words) + f"-{n + 1}",
                    "title": " ".join(words).capitalize(),
                    "description": _text(rng, 1, 1),
                    "body": _text(rng, 3, 8),
                    "author_id": authors[-1],
                    "created_at": created,
                    "updated_at": created,
                }
            )
        article_ids = _insert_returning_ids(Article, articles)
        links, favorites, comments = [], [], []
        for article_id, row in zip(article_ids, articles, strict=True):
            for tag_id in rng.sample(tag_ids, min(rng.randint(0, 3), len(tag_ids))):
                links.append({"article_id": article_id, "tag_id": tag_id})
            fans = rng.sample(user_ids, min(rng.randint(0, most_favorites), len(user_ids)))
            favorites += [
                {"user_id": fan, "article_id": article_id, "created_at": row["created_at"]}
                for fan in fans
            ]
            for k in range(rng.randint(0, most_comments)):
                at = row["created_at"] + timedelta(seconds=k + 1)
                comments.append(
                    {
                        "body": _text(rng, 1, 2),
                        "article_id": article_id,
                        "author_id": rng.choice(user_ids),
                        "created_at": at,
                        "updated_at": at,
                    }
                )
        for model, rows in ((ArticleTag, links), (Favorite, favorites), (Comment, comments)):
            if rows:
                db.session.execute(insert(model), rows)
        db.session.commit()
        totals["articles"] += len(article_ids)
        totals["article_tags"] += len(links)
        totals["favorites"] += len(favorites)
        totals["comments"] += len(comments)
    return totals


def refresh_statistics() -> None:
    """Statistics for the rows just written, so the planner sees the new sizes at once.

    On PostgreSQL VACUUM (ANALYZE) also marks the new pages all-visible, which lets a deep page
    read its ids from the (created_at, id) index alone; autovacuum would do both only later, or
    never where it is off. VACUUM cannot run in a transaction, hence the autocommit connection.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM (ANALYZE)")
        else:
            conn.exec_driver_sql("ANALYZE")


@click.command("seed")
@click.option("--users", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--articles", default=1000, show_default=True, type=click.IntRange(min=0))
@click.option("--tags", default=30, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--favorites", default=5, show_default=True, type=click.IntRange(min=0), help="most per article"
)
@click.option(
    "--comments", default=3, show_default=True, type=click.IntRange(min=0), help="most per article"
)
@click.option(
    "--follows", default=5, show_default=True, type=click.IntRange(min=0), help="most per user"
)
@click.option("--seed", "seed_value", default=1, show_default=True, help="random seed")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(min=1))
@click.option("--force", is_flag=True, help="Delete ALL existing data first.")
@with_appcontext
def seed(
    users: int,
    articles: int,
    tags: int,
    favorites: int,
    comments: int,
    follows: int,
    seed_value: int,
    batch_size: int,
    force: bool,
) -> None:
    """Fill the database with deterministic demo data (refuses a non-empty one without --force)."""
    if not is_empty():
        if not force:
            raise click.ClickException(
                "The database already holds data; pass --force to delete it all and reseed."
            )
        delete_everything()
    started = time.perf_counter()
    rng = random.Random(seed_value)
    # One argon2 hash shared by every account: hashing per user would take minutes.
    password_hash = security.hash_password(auth.password_hasher(), DEMO_PASSWORD)
    user_ids = seed_users(rng, users, password_hash, batch_size)
    follow_count = seed_follows(rng, user_ids, follows, batch_size)
    tag_ids = seed_tags(tags)
    totals = seed_articles(rng, articles, user_ids, tag_ids, favorites, comments, batch_size)
    refresh_statistics()
    click.echo(
        f"Seeded {len(user_ids)} users, {follow_count} follows, {len(tag_ids)} tags, "
        f"{totals['articles']} articles, {totals['article_tags']} article tags, "
        f"{totals['favorites']} favorites, {totals['comments']} comments "
        f"in {time.perf_counter() - started:.1f}s. Every user's password is {DEMO_PASSWORD!r}."
    )


def init_app(app: Flask) -> None:
    """Register the commands on `flask`."""
    app.cli.add_command(seed)
