"""articles' author index carries id

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

ix_articles_author_id_created_at (author_id, created_at) becomes
ix_articles_author_id_created_at_id (author_id, created_at, id): one author's articles in the
lists' order, newest first with id breaking ties, so the feed reads each followed author's newest
articles straight off the index (index-only on PostgreSQL) instead of sorting the author's rows
by id. Nothing but the index changes; SQLite keeps the table as it is (no batch rebuild). On
PostgreSQL the index is built by a plain CREATE INDEX, which blocks writes to articles while it
runs.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_articles_author_id_created_at_id", ["author_id", "created_at", "id"], unique=False
        )
        batch_op.drop_index("ix_articles_author_id_created_at")


def downgrade():
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_articles_author_id_created_at", ["author_id", "created_at"], unique=False
        )
        batch_op.drop_index("ix_articles_author_id_created_at_id")
