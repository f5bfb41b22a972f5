"""token versions, case-insensitive usernames, ids never reused on SQLite

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

- users.token_version (0 for every existing account): a token carries the version it was issued
  under and a password change increments it, revoking every earlier token. Tokens issued before
  this revision carry no version and count as 0, so nobody is logged out by the upgrade.
- users.username_key, unique: the username NFKC-normalised and case-folded. Existing rows are
  brought under the new username rules first, oldest account first: a name that is valid as
  stored (ASCII letters, digits, "_", "." and "-"; not "." or "..") and whose key no older account
  holds is kept; every other account (a look-alike such as "Bob" beside an older "bob", "alice\n",
  fullwidth or Cyrillic letters, ".", "..") is renamed to its name's ASCII characters (outer
  dots dropped) plus "-<id>", e.g. "Bob-7", "alice-12", "user-9" when nothing is left. Only the name changes: the
  account keeps its id, email, password, tokens, articles and follows.
- emails are NFKC-normalised before lower-casing, as the app now does on input. An email whose
  normalised form another (older) account already has is left as stored and logged; such an
  account can no longer log in by email until an operator changes it.
- SQLite: users and comments get AUTOINCREMENT, so a deleted row's id is never handed out again
  (a deleted account's tokens would otherwise authenticate as the next account registered).
  PostgreSQL sequences never reuse ids. Reflection does not see AUTOINCREMENT: a later batch
  migration that recreates either table must pass table_kwargs={"sqlite_autoincrement": True}.

The downgrade drops the new columns and AUTOINCREMENT; renamed usernames and normalised emails
stay as they are.
"""

import logging
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# The username rules as of this revision (copied, not imported: a migration must not change when
# the app's rules change later).
VALID_USERNAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}\Z")
NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.\-]")
AUTOINCREMENT = {"sqlite_autoincrement": True}

users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("username_key", sa.String),
    sa.column("email", sa.String),
)


def key(username: str) -> str:
    """The username NFKC-normalised and case-folded."""
    return unicodedata.normalize("NFKC", username).casefold()


def valid(username: str) -> bool:
    """Whether the username satisfies the rules as stored."""
    return bool(VALID_USERNAME.match(username)) and username not in {".", ".."}


def new_usernames(rows: list[tuple[int, str]]) -> dict[int, str]:
    """Every account's username under the new rules, by id (rows oldest first)."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    renamed = []
    for user_id, username in rows:
        if valid(username) and key(username) not in taken:
            names[user_id] = username
            taken.add(key(username))
        else:
            renamed.append((user_id, username))
    for user_id, username in renamed:
        base = NOT_ALLOWED.sub("", unicodedata.normalize("NFKC", username)).strip(".")[:40]
        base = base or "user"
        candidate, n = f"{base}-{user_id}", 1
        while key(candidate) in taken:
            n += 1
            candidate = f"{base}-{user_id}-{n}"
        names[user_id] = candidate
        taken.add(key(candidate))
        log.warning("user %s renamed from %r to %r", user_id, username, candidate)
    return names


def new_emails(rows: list[tuple[int, str]]) -> dict[int, str]:
    """Emails that change under NFKC-then-lower-case, by id (rows oldest first)."""
    emails = {email for _, email in rows}
    changed = {}
    for user_id, email in rows:
        normalised = unicodedata.normalize("NFKC", email).strip().lower()
        if normalised == email:
            continue
        if normalised in emails:
            log.warning(
                "user %s keeps email %r: %r belongs to another account", user_id, email, normalised
            )
            continue
        emails.discard(email)
        emails.add(normalised)
        changed[user_id] = normalised
    return changed


def upgrade():
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("username_key", sa.String(length=64), nullable=True))

    rows = bind.execute(
        sa.select(users.c.id, users.c.username, users.c.email).order_by(users.c.id)
    ).all()
    names = new_usernames([(row.id, row.username) for row in rows])
    emails = new_emails([(row.id, row.email) for row in rows])
    if rows:
        bind.execute(
            users.update()
            .where(users.c.id == sa.bindparam("user_id"))
            .values(username=sa.bindparam("name"), username_key=sa.bindparam("key")),
            [{"user_id": i, "name": name, "key": key(name)} for i, name in names.items()],
        )
    if emails:
        bind.execute(
            users.update()
            .where(users.c.id == sa.bindparam("user_id"))
            .values(email=sa.bindparam("new_email")),
            [{"user_id": i, "new_email": email} for i, email in emails.items()],
        )

    # On SQLite the table is rebuilt, which is also how it gets AUTOINCREMENT.
    with op.batch_alter_table(
        "users", schema=None, recreate="always" if sqlite else "auto", table_kwargs=AUTOINCREMENT
    ) as batch_op:
        batch_op.alter_column("username_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_users_username_key"), ["username_key"])

    if sqlite:
        with op.batch_alter_table(
            "comments", schema=None, recreate="always", table_kwargs=AUTOINCREMENT
        ):
            pass


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        with op.batch_alter_table("comments", schema=None, recreate="always"):
            pass

    with op.batch_alter_table(
        "users", schema=None, recreate="always" if sqlite else "auto"
    ) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_username_key"), type_="unique")
        batch_op.drop_column("username_key")
        batch_op.drop_column("token_version")
