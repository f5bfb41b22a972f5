"""Migrations build the schema the models describe, and run both ways."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.conftest import table_names
from webapp.core import security
from webapp.core.models import username_key
from webapp.extensions import db


def drift(app) -> list:
    """Differences between the migrated database and the models (empty when in step)."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_do_not_drift(app):
    assert drift(app) == []


def test_downgrade_to_base_and_upgrade_again(app):
    expected = {t.name for t in db.metadata.sorted_tables}
    with app.app_context():
        db.session.remove()
        downgrade(revision="base")
        assert table_names(app) & expected == set()
        upgrade()
    assert expected <= table_names(app)
    assert drift(app) == []


NEWLINE = "alice\n"
FULLWIDTH = "\uff41\uff4c\uff49\uff43\uff45"  # fullwidth "alice"
CYRILLIC = "\u0430lice"  # Cyrillic a
# Accounts as revision 0001 allowed them: (username, email), oldest first.
OLD_ACCOUNTS = [
    ("bob", "bob@example.com"),
    ("Bob", "bob.upper@example.com"),  # same name but for case: renamed
    (NEWLINE, "alice.nl@example.com"),  # trailing newline: renamed
    ("alice", "alice@example.com"),  # valid as stored: kept, though "alice\n" is older
    (".", "dot@example.com"),  # nothing usable left: "user-<id>"
    (FULLWIDTH, "fw@example.com"),  # renamed
    (CYRILLIC, "cyr@example.com"),  # renamed
    ("Bob-2", "bob2@example.com"),  # holds the name "Bob" would get if its id is 2
    ("carol", "\uff43\uff41\uff52\uff4f\uff4c@example.com"),  # fullwidth email: normalised
    ("dave", "\uff44\uff41\uff56\uff45@example.com"),  # its normal form is taken: kept
    ("dave2", "dave@example.com"),
]


def test_upgrade_brings_existing_accounts_under_the_new_rules(app, client):
    now = datetime.now(UTC)
    password_hash = security.hash_password(app.extensions["password_hasher"], "password1")
    with app.app_context():
        db.session.remove()
        downgrade(revision="0001")
        with db.engine.begin() as conn:
            for username, email in OLD_ACCOUNTS:
                conn.execute(
                    text(
                        "INSERT INTO users (username, email, password_hash, bio, image,"
                        " created_at, updated_at) VALUES (:u, :e, :h, '', '', :t, :t)"
                    ),
                    {"u": username, "e": email, "h": password_hash, "t": now},
                )
            ids = dict(conn.execute(text("SELECT username, id FROM users")).all())
            conn.execute(
                text(
                    "INSERT INTO articles (slug, title, description, body, author_id, created_at,"
                    " updated_at) VALUES ('s', 't', 'd', 'b', :a, :t, :t)"
                ),
                {"a": ids["Bob"], "t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO follows (follower_id, followed_id, created_at) VALUES (:a, :b, :t)"
                ),
                {"a": ids["bob"], "b": ids["Bob"], "t": now},
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, username, username_key, email FROM users")).all()
            children = [
                conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("articles", "follows")
            ]
        db.session.remove()

    by_id = {row.id: row for row in rows}
    bob_upper = "Bob-2-2" if ids["Bob"] == 2 else f"Bob-{ids['Bob']}"
    expected = {
        "bob": "bob",
        "Bob": bob_upper,
        NEWLINE: f"alice-{ids[NEWLINE]}",
        "alice": "alice",
        ".": f"user-{ids['.']}",
        FULLWIDTH: f"alice-{ids[FULLWIDTH]}",
        CYRILLIC: f"lice-{ids[CYRILLIC]}",
        "Bob-2": "Bob-2",
        "carol": "carol",
        "dave": "dave",
        "dave2": "dave2",
    }
    assert {old: by_id[ids[old]].username for old in ids} == expected
    assert all(row.username_key == username_key(row.username) for row in rows)
    assert len({row.username_key for row in rows}) == len(rows)
    emails = {by_id[ids[old]].email for old in ("carol", "dave")}
    assert emails == {"carol@example.com", "\uff44\uff41\uff56\uff45@example.com"}
    # Renaming touched no other row: Bob's article and follower are still there.
    assert children == [1, 1]

    # Accounts keep working: they log in (by the normalised email) and their profiles answer.
    login = client.post(
        "/api/users/login", json={"user": {"email": "carol@example.com", "password": "password1"}}
    )
    assert login.status_code == 200, login.get_json()
    profile = client.get(f"/api/profiles/{bob_upper}").get_json()["profile"]
    assert profile["username"] == bob_upper
    assert drift(app) == []
