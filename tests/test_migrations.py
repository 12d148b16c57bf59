"""Migrations: one schema definition, stores built through Alembic, a release-0.1 store upgraded without loss."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from core.db import get_engine, load_incidents, migrate
from core.db.schema import Base
from core.trust.auth import authenticate
from planning.cli import main

RELEASE_0_1 = Path(__file__).parent / "data" / "store_release_0_1.sqlite.gz"
#: The password the release-0.1 fixture's administrator was created with (see tests/data/README.md).
RELEASE_0_1_ADMIN = ("chief", "Admin-Pass-2026x")


def _release_store(tmp_path: Path) -> str:
    path = tmp_path / "old.sqlite"
    with gzip.open(RELEASE_0_1, "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return f"sqlite:///{path}"


def _counts(url: str) -> dict[str, int]:
    eng = create_engine(url)
    with eng.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
        out = {n: conn.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in names}
    eng.dispose()
    return out


_PARTITION = re.compile(r"incidents_(\d{6}|default)$")


def _postgres_only(d: tuple) -> bool:
    """What migration 0004 adds on PostgreSQL beyond schema.py: monthly partitions of incidents (tables and their
    indexes), the PostGIS column ``geom`` with its GiST index, and the natural key widened by the partition key."""
    kind, obj = d[0], d[1]
    if kind == "remove_table":
        return bool(_PARTITION.match(obj.name))
    if kind == "remove_index":
        return bool(_PARTITION.match(obj.table.name)) or obj.name == "ix_incident_geom"
    if kind == "remove_column":
        return d[2] == "incidents" and d[3].name == "geom"
    if kind in {"remove_constraint", "add_constraint"}:
        return obj.table.name == "incidents" and {c.name for c in obj.columns} <= {"source", "source_id", "received_at"}
    return False


def test_migrations_build_exactly_the_schema(store_url):
    engine = get_engine(store_url)
    assert migrate.current(engine) == migrate.head()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    # Ignore PostGIS's own tables (spatial_ref_sys) that the extension adds.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name in {"spatial_ref_sys"})]
    if engine.dialect.name == "postgresql":
        diff = [d for d in diff if not _postgres_only(d)]
    assert diff == [], f"schema.py and the migrations disagree: {diff}"


def test_release_0_1_store_upgrades_without_losing_rows(tmp_path):
    url = _release_store(tmp_path)
    before = _counts(url)
    assert before["incidents"] == 261 and before["users"] == 1  # the fixture as documented
    assert main(["db", "upgrade", "--db", url]) == 0
    after = _counts(url)
    assert {k: after[k] for k in before} == before
    engine = get_engine(url)
    assert migrate.is_current(engine)
    # The upgraded store works: its admin signs in with the old password, incidents load.
    assert authenticate(engine, *RELEASE_0_1_ADMIN).role == "admin"
    assert len(load_incidents(engine)) == 261
    # Its audit trail is still append-only at the database level.
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))


def test_db_current_reports_an_old_store_and_upgrade_is_idempotent(tmp_path, capsys):
    url = _release_store(tmp_path)
    assert main(["db", "current", "--db", url]) == 0
    assert "需升级" in capsys.readouterr().out
    assert main(["db", "upgrade", "--db", url]) == 0
    assert main(["db", "upgrade", "--db", url]) == 0
    assert "已是最新" in capsys.readouterr().out
