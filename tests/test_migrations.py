"""Migrations build the schema the models describe, and run both ways."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import table_names
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
