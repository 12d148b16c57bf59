"""Schema migrations (Alembic): build a new store, upgrade an old one, tell where a store stands.

Every store is built through the migrations, never by ``create_all``: the demo, the tests and a new deployment
run :func:`upgrade`, so an upgrade path exists for every change. A store written by release 0.1 (before
migrations) has the baseline tables but no ``alembic_version``; it is stamped at the baseline first.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR: Path = Path(__file__).resolve().parent / "migrations"
#: Revision of the schema release 0.1 created with ``create_all``.
BASELINE: str = "0001"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(_config()).get_current_head() or ""


def current(engine: Engine) -> str | None:
    """The revision a store is at (None for an empty store or one from before migrations)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the store to ``revision`` (default the newest); returns the revision reached.

    The whole upgrade runs in one transaction where the database allows it (PostgreSQL and SQLite both do
    transactional DDL), so a failed upgrade leaves the store as it was.
    """
    if revision == "head" and current(engine) == head():
        return head()  # nothing to do: every engine start-up passes here
    with engine.begin() as conn:
        names = set(inspect(conn).get_table_names())
        if "incidents" in names and "alembic_version" not in names:
            command.stamp(_config(conn), BASELINE)
        command.upgrade(_config(conn), revision)
    return current(engine) or ""


def is_current(engine: Engine) -> bool:
    """True when the store is at the newest revision."""
    return current(engine) == head()


def drop_all(engine: Engine) -> None:
    """Drop every table of the schema and the migration record (used only by the demo on a demo store)."""
    from sqlalchemy import text

    from core.db.schema import Base

    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
