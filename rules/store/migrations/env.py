"""Alembic environment of the scoring store: run by ``rules.store.migrate`` (``drgate store init``).

The caller hands over an open connection (``config.attributes["connection"]``), so SQLite's
pragmas and PostgreSQL's ``search_path`` of the store's URL apply to the migration too.
"""

from __future__ import annotations

from alembic import context

from rules.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
