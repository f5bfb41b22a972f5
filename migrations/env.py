"""Alembic environment, run by Flask-Migrate (`flask db ...`) inside the app context."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

import webapp.core.models  # noqa: F401  (registers every table on the metadata)

config = context.config
if config.config_file_name is not None:
    # Keep the app's own loggers alive when migrations run in-process (tests, `flask db`).
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)
target_metadata = db.metadata


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (`flask db upgrade --sql`)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on the app's engine."""

    def process_revision_directives(context, revision, directives):
        # `flask db migrate` with no model change writes no empty revision.
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)

    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode recreates a table by dropping it; with foreign keys enforced, dropping
            # `users` would first delete every row that refers to it (ON DELETE CASCADE). The
            # pragma only takes effect outside a transaction, hence before the migration's.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata, **conf_args)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            connection.rollback()
            if broken:
                raise RuntimeError(f"migrations left rows with dangling foreign keys: {broken}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
