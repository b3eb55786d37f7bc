"""Alembic environment: the engine is handed in by :func:`mltrainer.db.upgrade`."""

from alembic import context

from mltrainer.db.tables import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
