"""postgres: PostGIS point column with a GiST index, incidents partitioned by month (PostgreSQL only)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

On SQLite this revision does nothing: the embedded store keeps ``lon``/``lat`` and the time index of the baseline.

On PostgreSQL:

* ``incidents`` becomes a table partitioned by month on ``received_at`` (declarative ``RANGE`` partitioning), one
  partition per month from :data:`FIRST_MONTH` (or the oldest stored month) to :data:`MONTHS_AHEAD` months after
  today (or the newest stored month), plus a ``DEFAULT`` partition that takes any other date, so an import never
  fails on a date outside the span. :func:`core.db.loaders.ensure_month_partitions` adds months later (a monthly
  job, or before a bulk load). Existing rows are copied over, ids and the id sequence kept.
* PostgreSQL requires the partition key in every primary key and unique constraint, so the primary key is
  ``(id, received_at)`` and the natural key ``uq_incident_source_id`` is ``(source, source_id, received_at)``.
  The importer still refuses a second row with the same ``(source, source_id)`` whatever its time: it checks the
  stored ids under a per-source advisory lock (``geo.io.ingest``), so two imports cannot race past each other.
  No table references ``incidents.id`` by foreign key (PostgreSQL could not enforce one on a partitioned table).
* When the PostGIS extension is installed in the database (the DBA runs ``CREATE EXTENSION postgis`` once; it needs a
  superuser), ``incidents.geom`` is a stored generated column ``geometry(Point, 4326)`` computed from ``lon``/``lat``
  (WGS-84), so every insert path, COPY included, fills it, and ``ix_incident_geom`` is a GiST index on it. Without
  PostGIS the column is left out and the loaders fall back to plain coordinate filters.

``schema.py`` does not declare ``geom`` nor the PostgreSQL keys: they exist on PostgreSQL only, and
``tests/test_migrations.py`` ignores exactly :data:`PG_ONLY` when it compares the schema with the migrations.
"""

from __future__ import annotations

import datetime as dt

from alembic import op
from sqlalchemy import text

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: First monthly partition created (earlier dates land in the DEFAULT partition unless stored already).
FIRST_MONTH = dt.date(2024, 1, 1)
#: Monthly partitions created ahead of today.
MONTHS_AHEAD = 24
#: What this revision adds on PostgreSQL beyond ``schema.py`` (index and column names), for the schema test.
PG_ONLY = {"columns": {("incidents", "geom")}, "indexes": {"ix_incident_geom"},
           "unique": {"uq_incident_source_id"}}

_COLUMNS = ("id, source, source_id, channel, received_at, lon, lat, orig_crs, approximate, address, category, "
            "source_category, description, caller_name, caller_phone, hospital_id, hospital_distance_m, batch_id")


def _month_add(d: dt.date, n: int) -> dt.date:
    m = d.year * 12 + d.month - 1 + n
    return dt.date(m // 12, m % 12 + 1, 1)


def partition_ddl(month: dt.date) -> str:
    """``CREATE TABLE`` of the partition of ``month`` (its first day)."""
    nxt = _month_add(month, 1)
    return (f"CREATE TABLE IF NOT EXISTS incidents_{month:%Y%m} PARTITION OF incidents "
            f"FOR VALUES FROM ('{month:%Y-%m-%d}') TO ('{nxt:%Y-%m-%d}')")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    has_postgis = bind.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar_one() > 0
    lo, hi = bind.execute(text("SELECT min(received_at), max(received_at) FROM incidents")).one()
    today = dt.date.today().replace(day=1)
    first, last = FIRST_MONTH, _month_add(today, MONTHS_AHEAD)
    # Stored months get partitions too, within reason (a 1970 or 2099 date from a broken export stays in DEFAULT).
    if lo is not None:
        first = max(min(first, lo.date().replace(day=1)), _month_add(today, -120))
        last = min(max(last, hi.date().replace(day=1)), _month_add(today, 120))

    op.execute("ALTER TABLE incidents RENAME TO incidents_old")
    op.execute("ALTER INDEX ix_incident_time RENAME TO ix_incident_time_old")
    op.execute("ALTER TABLE incidents_old RENAME CONSTRAINT uq_incident_source_id TO uq_incident_source_id_old")
    op.execute("ALTER TABLE incidents_old RENAME CONSTRAINT incidents_pkey TO incidents_old_pkey")
    # Same columns, NOT NULLs and defaults (the id default is the baseline's sequence, kept below).
    op.execute("CREATE TABLE incidents (LIKE incidents_old INCLUDING DEFAULTS) PARTITION BY RANGE (received_at)")
    op.execute("ALTER SEQUENCE incidents_id_seq OWNED BY incidents.id")
    if has_postgis:
        op.execute("ALTER TABLE incidents ADD COLUMN geom geometry(Point, 4326) "
                   "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED")
    op.execute("ALTER TABLE incidents ADD CONSTRAINT incidents_pkey PRIMARY KEY (id, received_at)")
    op.execute("ALTER TABLE incidents ADD CONSTRAINT uq_incident_source_id UNIQUE (source, source_id, received_at)")
    op.execute("ALTER TABLE incidents ADD FOREIGN KEY (hospital_id) REFERENCES hospitals (id)")
    op.execute("ALTER TABLE incidents ADD FOREIGN KEY (batch_id) REFERENCES import_batches (id)")
    op.execute("CREATE INDEX ix_incident_time ON incidents (received_at)")
    if has_postgis:
        op.execute("CREATE INDEX ix_incident_geom ON incidents USING gist (geom)")
    month = first
    while month <= last:
        op.execute(partition_ddl(month))
        month = _month_add(month, 1)
    op.execute("CREATE TABLE incidents_default PARTITION OF incidents DEFAULT")
    op.execute(f"INSERT INTO incidents ({_COLUMNS}) SELECT {_COLUMNS} FROM incidents_old")
    op.execute("DROP TABLE incidents_old")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE incidents RENAME TO incidents_parted")
    op.execute("ALTER INDEX ix_incident_time RENAME TO ix_incident_time_parted")
    op.execute("ALTER TABLE incidents_parted RENAME CONSTRAINT uq_incident_source_id TO uq_incident_source_id_parted")
    op.execute("ALTER TABLE incidents_parted RENAME CONSTRAINT incidents_pkey TO incidents_parted_pkey")
    op.execute("CREATE TABLE incidents (LIKE incidents_parted INCLUDING DEFAULTS)")
    op.execute("ALTER TABLE incidents DROP COLUMN IF EXISTS geom")
    op.execute("ALTER SEQUENCE incidents_id_seq OWNED BY incidents.id")
    op.execute("ALTER TABLE incidents ADD CONSTRAINT incidents_pkey PRIMARY KEY (id)")
    op.execute("ALTER TABLE incidents ADD CONSTRAINT uq_incident_source_id UNIQUE (source, source_id)")
    op.execute("ALTER TABLE incidents ADD FOREIGN KEY (hospital_id) REFERENCES hospitals (id)")
    op.execute("ALTER TABLE incidents ADD FOREIGN KEY (batch_id) REFERENCES import_batches (id)")
    op.execute("CREATE INDEX ix_incident_time ON incidents (received_at)")
    op.execute(f"INSERT INTO incidents ({_COLUMNS}) SELECT {_COLUMNS} FROM incidents_parted")
    op.execute("DROP TABLE incidents_parted")
