"""Store loaders: time ranges, filters, column subsets, and the settings that choose the store."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.db import INCIDENT_COLUMNS, load_incidents


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
