"""`flask seed`: deterministic demo data that satisfies the schema's and the API's invariants."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, func

from webapp.cli import DEMO_PASSWORD
from webapp.core.models import Article, ArticleTag, Comment, Favorite, Follow, Tag, User
from webapp.extensions import db

SMALL = ["--users", "12", "--articles", "60", "--tags", "8", "--batch-size", "25"]


def seed(app, *args: str):
    """Run `flask seed` with these arguments; returns click's result."""
    return app.test_cli_runner().invoke(args=["seed", *args])


def counts(app) -> dict[str, int]:
    """Rows per table."""
    models = {"users": User, "follows": Follow, "tags": Tag, "articles": Article}
    models |= {"article_tags": ArticleTag, "favorites": Favorite, "comments": Comment}
    with app.app_context():
        return {
            name: db.session.scalar(db.select(func.count()).select_from(model))
            for name, model in models.items()
        }


def snapshot(app) -> dict[str, list[tuple]]:
    """The seeded content by natural keys (ids may differ between runs)."""
    with app.app_context():
        s = db.session
        return {
            "users": s.execute(db.select(User.username, User.email, User.bio)).all(),
            "articles": s.execute(
                db.select(Article.slug, Article.title, Article.body, User.username)
                .join(User, Article.author_id == User.id)
                .order_by(Article.slug)
            ).all(),
            "favorites": s.execute(
                db.select(User.username, Article.slug)
                .join(Favorite, Favorite.user_id == User.id)
                .join(Article, Article.id == Favorite.article_id)
                .order_by(User.username, Article.slug)
            ).all(),
        }


def test_seed_creates_what_it_reports(app):
    result = seed(app, *SMALL)
    assert result.exit_code == 0, result.output
    reported = {
        name.replace(" ", "_"): int(n)
        for n, name in re.findall(
            r"(\d+) (users|follows|tags|articles|article tags|favorites|"
            r"comments)",
            result.output,
        )
    }
    assert reported == counts(app)
    assert reported["users"] == 12
    assert reported["articles"] == 60
    assert reported["tags"] == 8
    assert reported["favorites"] > 0
    assert reported["comments"] > 0
    assert reported["follows"] > 0
    assert DEMO_PASSWORD in result.output


def test_seeded_data_respects_the_limits(app):
    assert seed(app, *SMALL, "--favorites", "3", "--comments", "2", "--follows", "4").exit_code == 0
    with app.app_context():
        s = db.session
        most_favorites = s.scalar(
            db.select(func.count())
            .select_from(Favorite)
            .group_by(Favorite.article_id)
            .order_by(func.count().desc())
            .limit(1)
        )
        most_comments = s.scalar(
            db.select(func.count())
            .select_from(Comment)
            .group_by(Comment.article_id)
            .order_by(func.count().desc())
            .limit(1)
        )
        most_follows = s.scalar(
            db.select(func.count())
            .select_from(Follow)
            .group_by(Follow.follower_id)
            .order_by(func.count().desc())
            .limit(1)
        )
        most_tags = s.scalar(
            db.select(func.count())
            .select_from(ArticleTag)
            .group_by(ArticleTag.article_id)
            .order_by(func.count().desc())
            .limit(1)
        )
        self_follows = s.scalar(
            db.select(func.count())
            .select_from(Follow)
            .where(Follow.follower_id == Follow.followed_id)
        )
    assert 0 < most_favorites <= 3
    assert 0 < most_comments <= 2
    assert 0 < most_follows <= 4
    assert 0 < most_tags <= 3
    assert self_follows == 0


def test_seed_is_deterministic_and_the_seed_option_changes_it(app):
    assert seed(app, *SMALL).exit_code == 0
    first = snapshot(app)
    assert seed(app, *SMALL, "--force").exit_code == 0
    assert snapshot(app) == first
    assert seed(app, *SMALL, "--force", "--seed", "2").exit_code == 0
    assert snapshot(app) != first


def test_seed_refuses_a_database_with_data(app, make_user):
    make_user("jake")
    result = seed(app, *SMALL)
    assert result.exit_code != 0
    assert "--force" in result.output
    assert counts(app)["users"] == 1
    assert counts(app)["articles"] == 0


def test_force_replaces_existing_data(app, make_user):
    make_user("jake")
    assert seed(app, *SMALL, "--force").exit_code == 0
    with app.app_context():
        assert db.session.scalar(db.select(User).filter_by(username="jake")) is None
    assert counts(app)["users"] == 12


def test_seeded_users_log_in_with_the_demo_password(app, client):
    assert seed(app, "--users", "3", "--articles", "0").exit_code == 0
    response = client.post(
        "/api/users/login", json={"user": {"email": "user2@example.com", "password": DEMO_PASSWORD}}
    )
    assert response.status_code == 200
    assert response.get_json()["user"]["username"] == "user2"
    # The API keeps working on top of seeded data: ids continue after the seeded rows.
    response = client.post(
        "/api/users",
        json={
            "user": {"username": "newbie", "email": "newbie@example.com", "password": "password1"}
        },
    )
    assert response.status_code == 201


def test_seed_ends_with_fresh_planner_statistics(app):
    executed: list[str] = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
    assert seed(app, *SMALL).exit_code == 0
    # The last statement, after every insert: the statistics cover everything seeded
    # (PostgreSQL also vacuums, for index-only scans).
    assert executed[-1] == ("VACUUM (ANALYZE)" if "postgresql" in str(engine.url) else "ANALYZE")


@pytest.mark.parametrize("args", [["--users", "0"], ["--articles", "-1"], ["--batch-size", "0"]])
def test_invalid_sizes_are_refused(app, args):
    result = seed(app, *args)
    assert result.exit_code == 2
    assert counts(app)["users"] == 0


def login(client, username: str) -> dict[str, str]:
    """Auth headers for a seeded user, through the API with the demo password."""
    credentials = {"email": f"{username}@example.com", "password": DEMO_PASSWORD}
    response = client.post("/api/users/login", json={"user": credentials})
    assert response.status_code == 200
    return {"Authorization": f"Token {response.get_json()['user']['token']}"}


def test_seeded_data_matches_what_the_api_reports(app, client):
    assert seed(app, *SMALL, "--favorites", "6", "--follows", "6").exit_code == 0
    with app.app_context():
        s = db.session
        fans = dict(
            s.execute(
                db.select(Article.slug, func.count(Favorite.user_id))
                .outerjoin(Favorite, Favorite.article_id == Article.id)
                .group_by(Article.slug)
            ).all()
        )
        by_author = dict(
            s.execute(
                db.select(User.username, func.count(Article.id))
                .outerjoin(Article, Article.author_id == User.id)
                .group_by(User.username)
            ).all()
        )
        follower, followed = db.aliased(User), db.aliased(User)
        follows = set(
            s.execute(
                db.select(follower.username, followed.username)
                .join(Follow, Follow.follower_id == follower.id)
                .join(followed, followed.id == Follow.followed_id)
            ).all()
        )
        liked = set(
            s.scalars(
                db.select(Article.slug)
                .join(Favorite, Favorite.article_id == Article.id)
                .join(User, User.id == Favorite.user_id)
                .where(User.username == "user1")
            )
        )
        tags = sorted(s.scalars(db.select(Tag.name).join(ArticleTag).distinct()))
    reader = login(client, "user1")

    page = client.get("/api/articles?limit=100", headers=reader).get_json()
    assert page["articlesCount"] == len(fans) == 60
    for article in page["articles"]:
        assert article["favoritesCount"] == fans[article["slug"]]
        assert article["favorited"] == (article["slug"] in liked)
        author = article["author"]["username"]
        assert article["author"]["following"] == (("user1", author) in follows)
    for username, count in by_author.items():
        listed = client.get(f"/api/articles?author={username}&limit=1").get_json()
        assert listed["articlesCount"] == count
        profile = client.get(f"/api/profiles/{username}", headers=reader).get_json()["profile"]
        assert profile["following"] == (("user1", username) in follows)
    favorited = client.get("/api/articles?favorited=user1&limit=100").get_json()
    assert {a["slug"] for a in favorited["articles"]} == liked
    feed = client.get("/api/articles/feed?limit=100", headers=reader).get_json()
    followed_authors = {b for a, b in follows if a == "user1"}
    assert feed["articlesCount"] == sum(by_author[name] for name in followed_authors)
    assert client.get("/api/tags").get_json()["tags"] == tags
