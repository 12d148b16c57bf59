"""Store loaders: time ranges, filters, column subsets, and the settings that choose the store."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.db import (
    INCIDENT_COLUMNS,
    count_incidents,
    has_geometry,
    load_incidents,
    load_incidents_in_view,
    load_incidents_near,
)


def test_time_range_is_half_open_in_local_time(demo_engine):
    day = load_incidents(demo_engine, start="2026-10-08", end="2026-10-09")
    assert len(day) > 0
    local = day["received_at"].dt.tz_convert("Asia/Shanghai")
    assert (local.dt.date == pd.Timestamp("2026-10-08").date()).all()
    # The same instant given in UTC selects the same rows.
    utc = load_incidents(demo_engine, start=pd.Timestamp("2026-10-07 16:00", tz="UTC"),
                         end=pd.Timestamp("2026-10-08 16:00", tz="UTC"))
    assert utc["incident_id"].tolist() == day["incident_id"].tolist()


def test_filters_combine(demo_engine):
    all_ = load_incidents(demo_engine, start="2026-09-01", end="2026-10-01")
    sub = load_incidents(demo_engine, start="2026-09-01", end="2026-10-01", hospital_ids=["bj001"],
                         categories=["号贩子/倒号"], sources=["110"])
    expected = all_[(all_["hospital_id"] == "bj001") & (all_["category"] == "号贩子/倒号") & (all_["source"] == "110")]
    assert sub["incident_id"].tolist() == expected["incident_id"].tolist()


def test_column_subset(demo_engine):
    df = load_incidents(demo_engine, end="2026-01-01", columns=["lon", "lat", "hospital_id"])
    assert list(df.columns) == ["received_at", "lon", "lat", "hospital_id"]
    with pytest.raises(ValueError, match="Unknown incident columns"):
        load_incidents(demo_engine, columns=["password"])
    assert set(load_incidents(demo_engine, end="2025-11-02").columns) == set(INCIDENT_COLUMNS)


def test_database_url_comes_from_the_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    code = "from core import settings; print(settings.DB_URL)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"HOSPITAL_HOTSPOTS_DB": url, "PATH": ""}, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == url


# --------------------------------------------------------------------------- spatial loaders and SQL counts

PUMCH = (116.409669, 39.910989)  # bj001


def _geodesic(df: pd.DataFrame, lon: float, lat: float) -> np.ndarray:
    from pyproj import Geod

    _, _, d = Geod(ellps="WGS84").inv(np.full(len(df), lon), np.full(len(df), lat), df["lon"].to_numpy(),
                                      df["lat"].to_numpy())
    return d


def test_incidents_near_a_point_are_exactly_those_within_the_radius(demo_engine):
    window = {"start": "2026-07-01", "end": "2026-10-01"}
    everything = load_incidents(demo_engine, **window)
    near = load_incidents_near(demo_engine, *PUMCH, 400, **window)
    d = _geodesic(everything, *PUMCH)
    assert 0 < len(near) < len(everything)
    # Every row within 400 m and none beyond (a millimetre band around the circle is left to rounding).
    inside = set(everything.loc[d <= 400 - 1e-3, "incident_id"])
    outside = set(everything.loc[d > 400 + 1e-3, "incident_id"])
    got = set(near["incident_id"])
    assert inside <= got and not (got & outside)
    assert near["received_at"].is_monotonic_increasing
    assert list(near.columns) == list(everything.columns)


def test_incidents_near_respect_the_scope_and_mask_personal_fields(demo_engine):
    from core.trust.access import AccessScope

    officer = AccessScope(role="officer", hospital_ids=frozenset({"bj002"}))
    near = load_incidents_near(demo_engine, *PUMCH, 2000, scope=officer, end="2026-11-01")
    assert len(near) > 0 and set(near["hospital_id"]) == {"bj002"}  # bj001's own incidents are out of scope
    # The same rows, masked the same way, as the scoped loader gives for them.
    scoped = load_incidents(demo_engine, scope=officer, end="2026-11-01")
    scoped = scoped[_geodesic(scoped, *PUMCH) <= 2000].reset_index(drop=True)
    pd.testing.assert_frame_equal(near, scoped)
    raw = load_incidents_near(demo_engine, *PUMCH, 2000, end="2026-11-01")
    raw = raw.set_index("incident_id").loc[near["incident_id"], "caller_phone"]
    assert (near["caller_phone"].to_numpy() != raw.to_numpy()).all()  # phones masked


def test_viewport_returns_the_incidents_inside_the_box(demo_engine):
    box = (116.38, 39.89, 116.43, 39.93)
    window = {"start": "2026-09-01", "end": "2026-10-01"}
    everything = load_incidents(demo_engine, **window, columns=["incident_id", "lon", "lat"])
    inside = everything[everything["lon"].between(box[0], box[2]) & everything["lat"].between(box[1], box[3])]
    got = load_incidents_in_view(demo_engine, *box, **window, columns=["incident_id", "lon", "lat"])
    assert 0 < len(got) < len(everything)
    assert sorted(got["incident_id"]) == sorted(inside["incident_id"])
    newest = load_incidents_in_view(demo_engine, *box, **window, columns=["incident_id"], limit=10)
    assert newest["incident_id"].tolist() == got.sort_values("received_at", kind="stable")["incident_id"].tolist()[-10:]


def test_sql_counts_match_counting_the_rows(demo_engine):
    from core.trust.access import AccessScope

    rows = load_incidents(demo_engine, start="2026-03-01", end="2026-09-01")
    counted = count_incidents(demo_engine, start="2026-03-01", end="2026-09-01", by=("hospital_id", "month", "category"))
    expected = (rows[rows["hospital_id"].notna()]
                .assign(month=rows["received_at"].dt.strftime("%Y-%m"))
                .groupby(["hospital_id", "month", "category"]).size().rename("count").reset_index())
    pd.testing.assert_frame_equal(counted, expected, check_dtype=False)
    liaison = AccessScope(role="liaison", hospital_ids=frozenset({"bj001", "bj003"}), aggregates_only=True)
    scoped = count_incidents(demo_engine, by=("hospital_id",), scope=liaison)
    assert set(scoped["hospital_id"]) == {"bj001", "bj003"}
    by_day = count_incidents(demo_engine, start="2026-08-01", end="2026-08-08", by=("day",))
    assert by_day["day"].tolist() == [f"2026-08-0{d}" for d in range(1, 8)]
    assert by_day["count"].sum() == len(load_incidents(demo_engine, start="2026-08-01", end="2026-08-08"))


def test_postgis_serves_near_and_viewport_queries_from_the_gist_index(demo_engine):
    if demo_engine.dialect.name != "postgresql":
        pytest.skip("PostGIS only")
    from sqlalchemy import text

    assert has_geometry(demo_engine)
    near = ("SELECT id FROM incidents WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(116.41, 39.91), 4326), 0.006) "
            "AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(116.41, 39.91), 4326)::geography, 500)")
    view = "SELECT id FROM incidents WHERE geom && ST_MakeEnvelope(116.38, 39.89, 116.43, 39.93, 4326)"
    with demo_engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        for sql in (near, view):
            plan = "\n".join(conn.execute(text(f"EXPLAIN {sql}")).scalars())
            assert "geom_idx" in plan or "ix_incident_geom" in plan, plan


def test_postgres_incidents_are_partitioned_by_month(store_url):
    from sqlalchemy import text

    from core.db import ensure_month_partitions, get_engine
    from geo.io.hospitals import read_hospital_file, save_hospitals
    from geo.io.ingest import import_file

    engine = get_engine(store_url)
    if engine.dialect.name != "postgresql":
        pytest.skip("partitions exist on PostgreSQL only")
    save_hospitals(engine, read_hospital_file())
    rows = "警情编号,报警时间,经度,纬度,报警内容\n" + "".join(
        f"P{i},{t},116.4097,39.911,倒号\n" for i, t in enumerate(["2026-03-05 08:00", "2026-04-30 23:59:59",
                                                                   "2021-06-01 08:00", "2026-03-31 12:00"]))
    assert import_file(rows.encode(), source="110", engine=engine).accepted == 4
    with engine.connect() as conn:
        where = dict(conn.execute(text(
            "SELECT source_id, tableoid::regclass::text FROM incidents")).all())
    assert where == {"P0": "incidents_202603", "P1": "incidents_202604", "P2": "incidents_default",
                     "P3": "incidents_202603"}
    # A re-import of the same ids stores nothing, whatever the partition.
    assert import_file(rows.encode(), source="110", engine=engine).duplicates == 4
    # New months are added ahead; a month whose rows already sit in DEFAULT is left alone.
    created = ensure_month_partitions(engine, "2099-02-01", start="2099-01-01")
    assert created == ["incidents_209901", "incidents_209902"]
    assert ensure_month_partitions(engine, "2021-06-01", start="2021-06-01") == []
    assert ensure_month_partitions(engine, "2099-02-01", start="2099-01-01") == []
