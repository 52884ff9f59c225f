"""Alembic environment: migrations run on the connection the service hands over (engine.service.db.migrate)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
