"""Alembic environment: runs on the connection handed over by :func:`core.db.migrate.upgrade`.

Migrations are run from code (``python -m planning db upgrade`` and every engine start-up), never from an
``alembic.ini``; the connection arrives in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from core.db.schema import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table, as Alembic recommends.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
