"""Benchmark: a city-sized PostgreSQL + PostGIS store (default 10,000,000 incidents across 500 hospitals).

Synthetic data (not real figures): 44 real Beijing hospitals plus 456 synthetic ones (labelled 合成) across the
city; incidents around them (70 % within ~300 m, the rest across the city) over 24 months, written as monthly-size
CSV exports of ``--file-rows`` rows each and imported with the project's importer (``geo.io.ingest.import_file``:
parsing, checks, hospital assignment, PostgreSQL ``COPY`` into the month-partitioned, PostGIS-indexed table).

Prints:

* import rows/s end to end (target in issue 10: >= 100,000 rows/s);
* one hospital's hotspot refresh: its incidents within 1 km over the last 12 months read through the GiST index
  (``core.db.load_incidents_near``) plus ``geo.hotspot_report.hotspot_refresh`` (target <= 1 s), median of 5
  hospitals;
* city-wide overview aggregates in SQL (``core.db.count_incidents``: hospital x month x category over all rows,
  and daily counts of the last 90 days) (target <= 2 s).

Needs a PostgreSQL server with a PostGIS template database: ``eval "$(bash .ci/postgres.sh | tail -n 1)"``.
Usage: ``python benchmarks/bench_postgres.py [--rows 10000000] [--file-rows 1000000] [--url OWNER_URL] [--keep]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.db import count_incidents, get_engine, incident_count, load_incidents_near  # noqa: E402
from geo.hotspot_report import hotspot_refresh  # noqa: E402
from geo.io.hospitals import read_hospital_file, save_hospitals  # noqa: E402
from geo.io.ingest import import_file  # noqa: E402

TEXTS = ["门诊大厅有人倒卖专家号，开价500元", "有人冒充病友拉患者去私立诊所", "家属在诊室闹事", "候诊时手机被偷",
         "急诊门口有黑救护车揽客", "有人求助走失", "被冒充工作人员骗走800元"]
START = pd.Timestamp("2024-11-01")
MONTHS = 24


def hospitals_500(seed: int = 0) -> pd.DataFrame:
    """The 44 real hospitals and 456 synthetic ones spread over the urban districts."""
    rng = np.random.default_rng(seed)
    real = read_hospital_file()
    n = 500 - len(real)
    synth = pd.DataFrame({
        "hospital_id": [f"sx{i:03d}" for i in range(n)],
        "name": [f"合成医院{i:03d}（基准测试）" for i in range(n)],
        "full_name": "", "grade": "二级", "district": "",
        "lon": rng.uniform(116.20, 116.60, n), "lat": rng.uniform(39.78, 40.06, n),
    })
    return pd.concat([real[synth.columns], synth], ignore_index=True)


def write_file(path: Path, hosp: pd.DataFrame, first: int, n: int, rng: np.random.Generator) -> None:
    """``n`` synthetic 110 calls with ids ``first ..``, times spread over the 24 months, in time order."""
    i = rng.integers(0, len(hosp), n)
    near = rng.random(n) < 0.7
    lon = np.where(near, hosp["lon"].to_numpy()[i] + rng.normal(0, 0.003, n), rng.uniform(116.15, 116.65, n))
    lat = np.where(near, hosp["lat"].to_numpy()[i] + rng.normal(0, 0.0025, n), rng.uniform(39.75, 40.10, n))
    seconds = np.sort(rng.integers(0, MONTHS * 30 * 86400, n))
    t = START + pd.to_timedelta(seconds, unit="s")
    df = pd.DataFrame({
        "接警单编号": np.char.add("B", np.char.zfill(np.arange(first, first + n).astype(str), 9)),
        "报警时间": t.strftime("%Y-%m-%d %H:%M:%S"),
        "联系电话": "19000000000",
        "经度": np.round(lon, 6), "纬度": np.round(lat, 6),
        "简要警情": np.array(TEXTS)[rng.integers(0, len(TEXTS), n)],
    })
    df.to_csv(path, index=False, encoding="utf-8")


def _database(owner_url: str, name: str, template: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    admin = create_engine(owner_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    admin.dispose()
    return make_url(owner_url).set(database=name).render_as_string(hide_password=False)


def _drop(owner_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    admin = create_engine(owner_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _timed(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--file-rows", type=int, default=1_000_000)
    ap.add_argument("--url", default=os.environ.get("HOSPITAL_HOTSPOTS_TEST_PG", ""),
                    help="owner URL of a server with a PostGIS template (default $HOSPITAL_HOTSPOTS_TEST_PG)")
    ap.add_argument("--template", default=os.environ.get("HOSPITAL_HOTSPOTS_TEST_PG_TEMPLATE", "hh_template"))
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = ap.parse_args()
    if not args.url:
        sys.exit("no PostgreSQL server: eval \"$(bash .ci/postgres.sh | tail -n 1)\" first, or pass --url")
    name = f"hh_bench_{os.getpid()}"
    url = _database(args.url, name, args.template)
    rng = np.random.default_rng(20261201)
    try:
        engine = get_engine(url)  # runs the migrations: partitions, PostGIS column, GiST index
        hosp = hospitals_500()
        save_hospitals(engine, hosp, source_note="基准测试：44 家真实医院 + 456 家合成医院")
        print(f"PostgreSQL store {name}: {len(hosp)} hospitals, importing {args.rows:,} synthetic incidents "
              f"in files of {args.file_rows:,} rows")
        imported = import_seconds = gen_seconds = 0.0
        with tempfile.TemporaryDirectory() as d:
            first = 0
            while first < args.rows:
                n = min(args.file_rows, args.rows - first)
                path = Path(d) / f"calls_{first}.csv"
                t0 = time.perf_counter()
                write_file(path, hosp, first, n, rng)
                gen_seconds += time.perf_counter() - t0
                t0 = time.perf_counter()
                r = import_file(path, source="110", engine=engine, username="bench")
                dt_ = time.perf_counter() - t0
                import_seconds += dt_
                imported += r.accepted
                path.unlink()
                print(f"  file {first // args.file_rows + 1}: {r.accepted:,}/{r.total:,} rows in {dt_:.1f} s "
                      f"= {r.total / dt_:,.0f} rows/s (store now {int(imported):,})", flush=True)
                first += n
        print(f"import: {int(imported):,} rows in {import_seconds:.1f} s = {imported / import_seconds:,.0f} rows/s "
              f"(target >= 100,000; file generation {gen_seconds:.0f} s not counted)")
        from sqlalchemy import text

        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            t0 = time.perf_counter()
            conn.execute(text("ANALYZE incidents"))
            print(f"ANALYZE incidents: {time.perf_counter() - t0:.1f} s (autovacuum does this on a live server)")
            size = conn.execute(text("SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) "
                                     "FROM pg_inherits WHERE inhparent = 'incidents'::regclass")).scalar_one()
        assert incident_count(engine) == int(imported)
        print(f"incidents on disk (all partitions, with indexes): {size}")

        # One hospital's hotspot refresh: the busiest real hospitals, last 12 months, incidents within 1 km.
        end = START + pd.DateOffset(months=MONTHS)
        start = end - pd.DateOffset(months=12)
        times, sizes, reads = [], [], []
        for hid in ["bj001", "bj002", "bj003", "bj010", "bj020"]:
            h = hosp.set_index("hospital_id").loc[hid]
            t0 = time.perf_counter()
            events = load_incidents_near(engine, h["lon"], h["lat"], 1000, start=start, end=end,
                                         columns=["lon", "lat", "category", "hospital_id", "approximate"])
            t1 = time.perf_counter()
            hotspot_refresh(events, hospitals=hosp, emerging=False)
            times.append(time.perf_counter() - t0)
            reads.append(t1 - t0)
            sizes.append(len(events))
        print(f"one hospital's hotspot refresh (1 km, 12 months, {int(np.median(sizes)):,} incidents): "
              f"median {statistics.median(times):.2f} s (read {statistics.median(reads):.2f} s), "
              f"max {max(times):.2f} s over 5 hospitals (target <= 1 s)")

        t_all, counts = _timed(lambda: count_incidents(engine, by=("hospital_id", "month", "category")))
        t_day, days = _timed(lambda: count_incidents(engine, by=("day", "category"), start=end - pd.Timedelta(days=90),
                                                     end=end))
        t_month, _ = _timed(lambda: count_incidents(engine, by=("hospital_id",), start=end - pd.DateOffset(months=1),
                                                    end=end))
        print(f"city-wide overview aggregates (median of 3): hospital x month x category over all rows "
              f"{t_all:.2f} s ({len(counts):,} groups); daily x category, last 90 days {t_day:.2f} s "
              f"({len(days):,} groups); per hospital, last month {t_month:.2f} s (target <= 2 s)")
    finally:
        get_engine(url).dispose()
        if args.keep:
            print(f"kept database {name}")
        else:
            _drop(args.url, name)


if __name__ == "__main__":
    main()
