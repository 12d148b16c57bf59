"""Smoke test and COPY benchmark for the PostgreSQL + PostGIS test server of ``.ci/postgres.sh``.

Not collected by pytest (it lives in ``.ci/``). Run after ``eval "$(.ci/postgres.sh | tail -n 1)"``::

    /work/main/.venv/bin/python .ci/pg_smoke.py            # 1,000,000 rows COPY benchmark
    /work/main/.venv/bin/python .ci/pg_smoke.py --rows 100000

It works in a fresh database made from the template (``CREATE DATABASE ... TEMPLATE hh_template``) and drops it at
the end. It shows, with assertions that fail loudly:

* SQLAlchemy 2 + psycopg 3 + GeoAlchemy2 connect as the owner and as the application role;
* a ``geometry(Point,4326)`` column with a GiST index, and ``ST_DWithin`` on ``geography`` (which index the plan
  uses: the geometry GiST index is *not* usable for ``geom::geography``; an expression index is);
* a table partitioned by month (declarative RANGE partitioning), monthly partitions plus a DEFAULT partition;
  why ``UNIQUE (source, source_id)`` is refused there; what happens when a month is added after the DEFAULT
  partition caught rows of it;
* for ``hh_app`` an INSERT/SELECT-only grant blocks UPDATE, DELETE and TRUNCATE, and an append-only trigger
  blocks even the table owner;
* a COPY bulk load (psycopg ``cursor.copy``) of synthetic rows into the partitioned table, in rows/s.

All data is synthetic.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import psycopg
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.engine import URL, make_url

ENV_OWNER = "HOSPITAL_HOTSPOTS_TEST_PG"
ENV_APP = "HOSPITAL_HOTSPOTS_TEST_PG_APP"
ENV_TEMPLATE = "HOSPITAL_HOTSPOTS_TEST_PG_TEMPLATE"


def _env_from_file() -> None:
    """Fill the three variables from ``${PGTEST_DIR:-/tmp/hh-pg}/env`` when they are not set."""
    if os.environ.get(ENV_OWNER):
        return
    path = os.path.join(os.environ.get("PGTEST_DIR", "/tmp/hh-pg"), "env")
    if not os.path.exists(path):
        sys.exit(f"{ENV_OWNER} is not set and {path} does not exist: run .ci/postgres.sh first")
    with open(path, encoding="utf-8") as fh:
        for word in fh.read().split():
            if "=" in word and word != "export":
                key, value = word.split("=", 1)
                os.environ.setdefault(key, value)


def _libpq(url: URL) -> str:
    """SQLAlchemy URL -> libpq connection string for plain psycopg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(owner: URL, name: str, template: str) -> float:
    """Create database ``name`` from ``template`` as the owner role; return the seconds it took."""
    t0 = time.perf_counter()
    with psycopg.connect(_libpq(owner), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return time.perf_counter() - t0


def drop_database(owner: URL, name: str) -> None:
    """Drop database ``name`` (terminating its sessions)."""
    with psycopg.connect(_libpq(owner), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def month_starts(first: datetime, months: int) -> Iterator[tuple[datetime, datetime]]:
    """Yield ``(start, end)`` of ``months`` consecutive calendar months from ``first``."""
    y, m = first.year, first.month
    for _ in range(months):
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        yield datetime(y, m, 1), datetime(ny, nm, 1)
        y, m = ny, nm


def partition_ddl(table: str, start: datetime, end: datetime) -> str:
    """DDL of the monthly partition of ``table`` covering ``[start, end)``."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table}_{start:%Y%m} PARTITION OF {table} "
        f"FOR VALUES FROM ('{start:%Y-%m-%d}') TO ('{end:%Y-%m-%d}')"
    )


def expect_error(conn: sa.Connection, sql: str, sqlstate: str) -> str:
    """Run ``sql`` in a savepoint, assert that it fails with ``sqlstate``; return the server message."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(sql)
    except sa.exc.DBAPIError as exc:
        got = getattr(exc.orig, "sqlstate", None)
        assert got == sqlstate, f"{sql!r}: expected SQLSTATE {sqlstate}, got {got}: {exc.orig}"
        return str(exc.orig).splitlines()[0]
    raise AssertionError(f"{sql!r} should have failed with SQLSTATE {sqlstate}")


def plan_of(conn: sa.Connection, sql: str) -> str:
    """EXPLAIN text of ``sql``."""
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))


def smoke(owner: URL, app: URL) -> None:
    """Schema, PostGIS, partitioning and privilege checks (small data)."""
    eng = sa.create_engine(owner)
    md = sa.MetaData()
    hospitals = sa.Table(
        "hospitals", md,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=True), nullable=False),
    )
    incidents = sa.Table(
        "incidents", md,
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_id", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=True), nullable=False),
        # The partition key must be part of every PRIMARY KEY / UNIQUE constraint of a partitioned table.
        sa.PrimaryKeyConstraint("id", "occurred_at"),
        sa.UniqueConstraint("source", "source_id", "occurred_at", name="uq_incidents_source"),
        postgresql_partition_by="RANGE (occurred_at)",
    )
    audit = sa.Table(
        "audit_log", md,
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
    )
    sa.Table(  # a SERIAL column needs USAGE on its sequence; an IDENTITY column does not
        "serial_demo", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("x", sa.Text),
    )
    with eng.begin() as conn:
        md.create_all(conn)
        for start, end in month_starts(datetime(2025, 1, 1), 24):
            conn.exec_driver_sql(partition_ddl("incidents", start, end))
        conn.exec_driver_sql("CREATE TABLE incidents_default PARTITION OF incidents DEFAULT")
        conn.exec_driver_sql("CREATE INDEX ix_incidents_geog ON incidents USING gist ((geom::geography))")
        conn.exec_driver_sql("CREATE INDEX ix_incidents_time ON incidents (occurred_at)")
        # Append-only audit: privileges stop the app role, a trigger stops everyone (owner included).
        conn.exec_driver_sql("""
            CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege'; END $$""")
        conn.exec_driver_sql("CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit_log "
                             "FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
        conn.exec_driver_sql("CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_log "
                             "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()")
        conn.exec_driver_sql("GRANT SELECT, INSERT ON audit_log TO hh_app")
        conn.exec_driver_sql("GRANT SELECT, INSERT ON serial_demo TO hh_app")
        conn.exec_driver_sql("GRANT SELECT, INSERT, UPDATE, DELETE ON hospitals, incidents TO hh_app")

        # Pitfall 1: UNIQUE (source, source_id) without the partition key is refused.
        msg = expect_error(conn, "ALTER TABLE incidents ADD CONSTRAINT uq_bad UNIQUE (source, source_id)", "0A000")
        print(f"[partition] UNIQUE(source, source_id) refused: {msg}")
        # ... and so is a primary key / a foreign-key target on id alone.
        msg = expect_error(conn, "CREATE TABLE links (incident_id bigint REFERENCES incidents (id))", "42830")
        print(f"[partition] FK to incidents(id) refused: {msg}")

    with eng.begin() as conn:
        conn.execute(hospitals.insert(), [
            {"name": "合成医院A", "geom": "SRID=4326;POINT(116.3975 39.9087)"},
            {"name": "合成医院B", "geom": "SRID=4326;POINT(121.4737 31.2304)"},
        ])
        rows = [  # ~111 m per 0.001 deg of latitude
            {"occurred_at": datetime(2025, 3, 5, 10), "source": "110", "source_id": "a1", "category": "盗窃",
             "geom": "SRID=4326;POINT(116.3975 39.9097)"},   # ~111 m north of A
            {"occurred_at": datetime(2026, 7, 1, 8), "source": "110", "source_id": "a2", "category": "纠纷",
             "geom": "SRID=4326;POINT(116.3975 39.9127)"},   # ~444 m north of A
            {"occurred_at": datetime(2025, 3, 5, 11), "source": "110", "source_id": "a3", "category": "纠纷",
             "geom": "SRID=4326;POINT(116.4100 39.9087)"},   # ~1.07 km east of A
            {"occurred_at": datetime(1970, 1, 1), "source": "110", "source_id": "bad-date", "category": "其他",
             "geom": "SRID=4326;POINT(116.3975 39.9087)"},   # outside every month -> DEFAULT partition
        ]
        conn.execute(incidents.insert(), rows)
        where = dict(conn.execute(sa.text(
            "SELECT source_id, tableoid::regclass::text FROM incidents ORDER BY source_id")).all())
        assert where == {"a1": "incidents_202503", "a2": "incidents_202607", "a3": "incidents_202503",
                         "bad-date": "incidents_default"}, where
        print(f"[partition] rows landed in {where}")

        # Dedup on the natural key needs the partition key in the conflict target.
        n = conn.execute(sa.text(
            "INSERT INTO incidents (occurred_at, source, source_id, category, geom) "
            "VALUES ('2025-03-05 10:00', '110', 'a1', '盗窃', 'SRID=4326;POINT(116.3975 39.9097)') "
            "ON CONFLICT (source, source_id, occurred_at) DO NOTHING")).rowcount
        assert n == 0
        n = conn.execute(sa.text(  # the same record with a corrected time is NOT caught by that constraint
            "INSERT INTO incidents (occurred_at, source, source_id, category, geom) "
            "VALUES ('2025-03-05 10:30', '110', 'a1', '盗窃', 'SRID=4326;POINT(116.3975 39.9097)') "
            "ON CONFLICT (source, source_id, occurred_at) DO NOTHING")).rowcount
        assert n == 1
        print("[partition] ON CONFLICT (source, source_id, occurred_at): same time skipped, corrected time "
              "inserted as a second row (dedup on (source, source_id) needs another mechanism)")
        conn.execute(sa.text("DELETE FROM incidents WHERE source_id = 'a1' AND occurred_at = '2025-03-05 10:30'"))

        near = conn.execute(sa.text(
            "SELECT i.source_id FROM incidents i JOIN hospitals h ON h.name = '合成医院A' "
            "WHERE ST_DWithin(i.geom::geography, h.geom::geography, 500) ORDER BY i.source_id")).scalars().all()
        assert near == ["a1", "a2", "bad-date"], near
        print(f"[postgis] ST_DWithin(geography, 500 m) of 合成医院A: {near}")

    # Which index serves the geography query? Force index use to see whether one is usable at all.
    with eng.connect() as conn:  # rolled back at the end: the index dropped here comes back
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        q = ("SELECT id FROM incidents_202503 i WHERE ST_DWithin(i.geom::geography, "
             "'SRID=4326;POINT(116.3975 39.9087)'::geography, 500)")
        p = plan_of(conn, q)
        assert "geog" in p, p
        conn.exec_driver_sql("DROP INDEX ix_incidents_geog")
        p2 = plan_of(conn, q)
        assert "Seq Scan" in p2, p2
        print("[postgis] ST_DWithin(geom::geography, ...) uses the expression GiST index on (geom::geography); "
              "the plain geometry GiST index cannot serve it (plan without the expression index: "
              f"{p2.splitlines()[0].strip()})")
        q3 = ("SELECT id FROM incidents_202503 i WHERE ST_DWithin(i.geom, "
              "'SRID=4326;POINT(116.3975 39.9087)'::geometry, 0.005)")
        assert "geom_idx" in plan_of(conn, q3)
        print("[postgis] ST_DWithin on geometry (degrees) uses the geometry GiST index")
        conn.rollback()

    # Pitfall 2: adding a month later, after the DEFAULT partition caught rows of that month.
    with eng.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO incidents (occurred_at, source, source_id, category, geom) VALUES "
            "('2027-02-10', '110', 'future', '其他', 'SRID=4326;POINT(116.3975 39.9087)')")
        start, end = next(month_starts(datetime(2027, 2, 1), 1))
        msg = expect_error(conn, partition_ddl("incidents", start, end), "23514")
        print(f"[partition] new month after DEFAULT caught its rows: {msg}")
        # The fix: move the rows out of DEFAULT in the same transaction, then create the month.
        conn.exec_driver_sql("CREATE TEMP TABLE moving ON COMMIT DROP AS SELECT * FROM incidents_default "
                             "WHERE occurred_at >= '2027-02-01' AND occurred_at < '2027-03-01'")
        conn.exec_driver_sql("DELETE FROM incidents_default WHERE occurred_at >= '2027-02-01' "
                             "AND occurred_at < '2027-03-01'")
        conn.exec_driver_sql(partition_ddl("incidents", start, end))
        conn.exec_driver_sql("INSERT INTO incidents OVERRIDING SYSTEM VALUE SELECT * FROM moving")
        got = conn.execute(sa.text("SELECT tableoid::regclass::text FROM incidents WHERE source_id='future'")).scalar()
        assert got == "incidents_202702", got
        print("[partition] fixed by moving those rows out of DEFAULT, creating the month, re-inserting")

    # Privileges of the application role.
    app_eng = sa.create_engine(app)
    with app_eng.begin() as conn:
        conn.execute(audit.insert().values(actor="u1", action="login"))
        assert conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar() == 1
        for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            msg = expect_error(conn, sql, "42501")
            print(f"[grants] hh_app {sql.split()[0]}: {msg}")
        msg = expect_error(conn, "INSERT INTO serial_demo (x) VALUES ('y')", "42501")
        print(f"[grants] hh_app INSERT into a SERIAL table with INSERT grant only: {msg} "
              "(IDENTITY columns need no sequence grant)")
        msg = expect_error(conn, "CREATE TABLE t_app (x int)", "42501")
        print(f"[grants] hh_app CREATE TABLE in public: {msg}")
        n = conn.execute(sa.text("SELECT count(*) FROM incidents WHERE ST_DWithin(geom::geography, "
                                 "ST_MakePoint(116.3975, 39.9087)::geography, 500)")).scalar()
        assert n >= 3
    with eng.begin() as conn:
        for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            msg = expect_error(conn, sql, "42501")
            print(f"[audit] owner {sql.split()[0]}: blocked by trigger: {msg}")
        # Extension: present from the template; IF NOT EXISTS is a no-op without superuser rights.
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        ver = conn.execute(sa.text("SELECT postgis_lib_version(), version()")).one()
        print(f"[server] PostGIS {ver[0]}; {ver[1].split(' on ')[0]}")
    app_eng.dispose()
    eng.dispose()


def synthetic_block(rng: np.random.Generator, start: int, n: int, t0: float, span_s: float,
                    total: int | None = None) -> str:
    """``n`` synthetic incident rows as COPY text (tab separated), ids ``start..``; EWKT geometry.

    Times are uniform over ``span_s`` seconds from ``t0``; with ``total`` they increase with the row number
    (rows ``start..start+n`` of ``total`` in time order, as an export of a dispatch system usually is).
    """
    if total is None:
        ts = t0 + rng.uniform(0.0, span_s, n)
    else:
        ts = t0 + span_s * (start + np.arange(n) + rng.uniform(0.0, 1.0, n)) / total
    when = np.array(ts * 1e6, dtype="datetime64[us]").astype(str)
    lon = 116.0 + rng.uniform(0.0, 0.8, n)
    lat = 39.6 + rng.uniform(0.0, 0.6, n)
    cats = np.array(["盗窃", "纠纷", "医闹", "诈骗", "其他"])[rng.integers(0, 5, n)]
    sid = np.char.add("s", np.arange(start, start + n).astype(str))
    geom = np.char.add(np.char.add(np.char.add("SRID=4326;POINT(", np.char.mod("%.6f", lon)), " "),
                       np.char.add(np.char.mod("%.6f", lat), ")"))
    cols = [when, np.full(n, "bench"), sid, cats, geom]
    lines = cols[0]
    for c in cols[1:]:
        lines = np.char.add(np.char.add(lines, "\t"), c)
    return "\n".join(lines.tolist()) + "\n"


INDEX_DDL = {
    "pk (id, occurred_at)": "ALTER TABLE {t} ADD PRIMARY KEY (id, occurred_at)",
    "unique (source, source_id, occurred_at)": "ALTER TABLE {t} ADD UNIQUE (source, source_id, occurred_at)",
    "btree (occurred_at)": "CREATE INDEX ON {t} (occurred_at)",
    "gist (geom)": "CREATE INDEX ON {t} USING gist (geom)",
    "gist ((geom::geography))": "CREATE INDEX ON {t} USING gist ((geom::geography))",
}


def _bench_table(conn: psycopg.Connection, name: str, indexes: list[str]) -> None:
    """Create partitioned table ``name`` (24 months + DEFAULT) with the named ``INDEX_DDL`` entries."""
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} (id bigint GENERATED BY DEFAULT AS IDENTITY, occurred_at timestamp NOT NULL, "
                 "source text NOT NULL, source_id text NOT NULL, category text NOT NULL, "
                 "geom geometry(Point,4326) NOT NULL) PARTITION BY RANGE (occurred_at)")
    for start, end in month_starts(datetime(2025, 1, 1), 24):
        conn.execute(partition_ddl(name, start, end))
    conn.execute(f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
    for key in indexes:
        conn.execute(INDEX_DDL[key].format(t=name))
    conn.commit()


def _copy(conn: psycopg.Connection, table: str, blocks: list[str]) -> float:
    """COPY the text ``blocks`` into ``table`` in one transaction; return seconds."""
    t0 = time.perf_counter()
    with conn.cursor() as cur, cur.copy(
        f"COPY {table} (occurred_at, source, source_id, category, geom) FROM STDIN"
    ) as cp:
        for text in blocks:
            cp.write(text)
    conn.commit()
    return time.perf_counter() - t0


def _staged_attach(conn: psycopg.Connection, blocks: list[str], indexes: list[str]) -> float:
    """Load time-ordered ``blocks`` month by month into standalone tables, index them, attach them; seconds.

    The parent ``bench_incidents`` has the ``indexes`` and only a DEFAULT partition; each month's table gets the
    same indexes before ``ATTACH PARTITION``, which then adopts them instead of building new ones, and a CHECK
    constraint equal to the bounds, so the attach needs no validation scan.
    """
    by_month: dict[str, list[str]] = {}
    for text in blocks:
        for line in text.splitlines(keepends=True):
            by_month.setdefault(line[:7], []).append(line)
    _bench_table(conn, "bench_incidents", indexes)
    for start, _end in month_starts(datetime(2025, 1, 1), 24):
        conn.execute(f"ALTER TABLE bench_incidents DETACH PARTITION bench_incidents_{start:%Y%m}")
        conn.execute(f"DROP TABLE bench_incidents_{start:%Y%m}")
    conn.commit()
    t0 = time.perf_counter()
    for key, lines in sorted(by_month.items()):
        start = datetime.strptime(key, "%Y-%m")
        end = next(month_starts(start, 1))[1]
        t = f"stage_{start:%Y%m}"
        conn.execute(f"CREATE TABLE {t} (id bigint NOT NULL DEFAULT nextval('bench_incidents_id_seq'), "
                     "occurred_at timestamp NOT NULL, source text NOT NULL, source_id text NOT NULL, "
                     "category text NOT NULL, geom geometry(Point,4326) NOT NULL, "
                     f"CHECK (occurred_at >= '{start:%Y-%m-%d}' AND occurred_at < '{end:%Y-%m-%d}'))")
        with conn.cursor() as cur, cur.copy(
            f"COPY {t} (occurred_at, source, source_id, category, geom) FROM STDIN"
        ) as cp:
            cp.write("".join(lines))
        for idx in indexes:
            conn.execute(INDEX_DDL[idx].format(t=t))
        conn.execute(f"ALTER TABLE bench_incidents ATTACH PARTITION {t} "
                     f"FOR VALUES FROM ('{start:%Y-%m-%d}') TO ('{end:%Y-%m-%d}')")
    conn.commit()
    dt = time.perf_counter() - t0
    n = conn.execute("SELECT count(*) FROM bench_incidents").fetchone()[0]
    n_idx = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'stage_%'").fetchone()[0]
    assert n == sum(len(v) for v in by_month.values()), n
    assert n_idx == len(indexes) * len(by_month), n_idx  # adopted, not duplicated
    return dt


def bench_copy(owner: URL, rows: int, seed: int) -> None:
    """COPY ``rows`` synthetic rows into a partitioned incidents table with various index sets; print rows/s."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    span = 730 * 86400.0
    block = 100_000
    g0 = time.perf_counter()
    blocks = [synthetic_block(rng, s, min(block, rows - s), t0, span) for s in range(0, rows, block)]
    in_order = [synthetic_block(rng, s, min(block, rows - s), t0, span, total=rows) for s in range(0, rows, block)]
    t_gen = time.perf_counter() - g0
    mb = sum(len(b.encode()) for b in blocks) / 1e6
    print(f"[copy] {rows:,} synthetic rows ({mb:.0f} MB COPY text, EWKT points, random times over 24 months unless "
          f"'time order'), generated in {t_gen:.1f} s (not counted below)")
    every = list(INDEX_DDL)
    variants = [
        ("all 5 indexes present, rows in time order", every),
        ("all 5 indexes present", every),
        ("without the geography GiST", every[:4]),
        ("keys only (pk + unique)", every[:2]),
        ("no index", []),
    ]
    with psycopg.connect(_libpq(owner)) as conn:
        for label, idx in variants:
            _bench_table(conn, "bench_incidents", idx)
            dt = _copy(conn, "bench_incidents", in_order if "time order" in label else blocks)
            n = conn.execute("SELECT count(*) FROM bench_incidents").fetchone()[0]
            assert n == rows, (n, rows)
            print(f"[copy] into 24 monthly partitions, {label}: {dt:.1f} s -> {rows / dt:,.0f} rows/s")
        # Build the indexes after the load (table still holds the rows of the last variant).
        for key in every:
            i0 = time.perf_counter()
            conn.execute(INDEX_DDL[key].format(t="bench_incidents"))
            conn.commit()
            print(f"[copy]   then build {key}: {time.perf_counter() - i0:.1f} s")
        conn.execute("DROP TABLE bench_incidents")
        conn.commit()

        dt = _staged_attach(conn, in_order, every[:4])
        print(f"[copy] staged: per month COPY into a plain table, build {len(every[:4])} indexes (no geography "
              f"GiST), ATTACH PARTITION, one transaction: {dt:.1f} s -> {rows / dt:,.0f} rows/s")
        conn.execute("DROP TABLE bench_incidents")
        conn.commit()

    # write_row() per row (driver-side formatting) for comparison, no index.
    small = min(rows, 200_000)
    data = [r.split("\t") for r in "".join(blocks[: max(1, small // block)]).splitlines()[:small]]
    with psycopg.connect(_libpq(owner)) as conn:
        conn.execute("CREATE TEMP TABLE plain (occurred_at timestamp, source text, source_id text, category text, "
                     "geom geometry(Point,4326))")
        w0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY plain FROM STDIN") as cp:
            for r in data:
                cp.write_row(r)
        conn.commit()
        dt = time.perf_counter() - w0
    print(f"[copy] write_row() per Python row, {len(data):,} rows, temp table without index: "
          f"{len(data) / dt:,.0f} rows/s")


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows for the COPY benchmark (0: skip)")
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--keep", action="store_true", help="keep the smoke database")
    args = ap.parse_args()
    _env_from_file()
    owner = make_url(os.environ[ENV_OWNER])
    app = make_url(os.environ[ENV_APP])
    template = os.environ.get(ENV_TEMPLATE, "hh_template")

    # Two databases from the template at once (as two pytest-xdist workers would do).
    names = [f"hh_smoke_{os.getpid()}_{i}" for i in range(2)]
    took: list[float] = [0.0, 0.0]

    def make(i: int) -> None:
        took[i] = create_database(owner, names[i], template)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(took), "CREATE DATABASE ... TEMPLATE failed"
    print(f"[template] 2 databases from {template} concurrently: {took[0]:.2f} s, {took[1]:.2f} s")
    drop_database(owner, names[1])
    name = names[0]
    try:
        smoke(owner.set(database=name), app.set(database=name))
        if args.rows:
            bench_copy(owner.set(database=name), args.rows, args.seed)
    finally:
        if not args.keep:
            drop_database(owner, name)
    print("pg_smoke: OK")


if __name__ == "__main__":
    main()
