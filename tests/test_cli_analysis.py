"""``python -m planning hotspots|backtest|forecast`` on generic CSVs and on the demo store."""

import json

import numpy as np
import pandas as pd
import pytest

from geo import crs
from planning.cli import main
from tests._planted import Plant, planted_events


@pytest.fixture(scope="module")
def point_csv(tmp_path_factory):
    """A generic CSV (odd column names, GCJ-02 coordinates) with a stable hotspot over 8 months."""
    ev = planted_events(n_background=1500, plants=(Plant(dx=300, dy=-200, n=500, start_hour=8, end_hour=12),),
                        start="2025-01-01", days=243, seed=7)
    glon, glat = crs.from_wgs84(ev.lon.to_numpy(), ev.lat.to_numpy(), "gcj02")
    frame = pd.DataFrame({"when": ev.received_at.dt.tz_localize(None).dt.strftime("%Y-%m-%d %H:%M"),
                          "X": glon, "Y": glat, "note": "x"})
    frame.loc[3, "when"] = "not a date"
    path = tmp_path_factory.mktemp("cli") / "points.csv"
    frame.to_csv(path, index=False)
    return path


def _csv_args(path):
    return ["--csv", str(path), "--time", "when", "--lon", "X", "--lat", "Y", "--crs", "gcj02"]


def test_backtest_json_shape(point_csv, capsys):
    code = main(["backtest", *_csv_args(point_csv), "--periods", "2", "--horizon", "month", "--cell", "150",
                 "--methods", "naive_last,kde_retrospective,sepp", "--json"])
    out = capsys.readouterr()
    assert code == 0
    data = json.loads(out.out)
    assert data["periods"] == 2
    assert set(data["methods"]) == {"naive_last", "kde_retrospective", "sepp"}
    for m in data["methods"].values():
        assert list(m["coverage"]) == ["1", "2", "5", "10"]
        assert set(m["coverage"]["5"]) >= {"hit_rate", "pai", "pei"}
    assert "跳过 1 行" in out.err


def test_forecast_writes_cells_in_wgs84(point_csv, tmp_path):
    out = tmp_path / "cells.csv"
    code = main(["forecast", *_csv_args(point_csv), "--method", "sepp", "--until", "2025-08-01",
                 "--horizon", "week", "--cell", "100", "--out", str(out)])
    assert code == 0
    cells = pd.read_csv(out)
    assert list(cells.columns) == ["cell_id", "lon", "lat", "min_lon", "min_lat", "max_lon", "max_lat", "risk"]
    assert cells["cell_id"].is_unique and (cells["risk"] >= 0).all()
    assert ((cells.min_lon < cells.lon) & (cells.lon < cells.max_lon)).all()
    # The riskiest cell is at the planted hotspot (300 m east, 200 m south of the centre), in WGS-84.
    top = cells.loc[cells["risk"].idxmax()]
    from tests._planted import offset_m

    dx, dy = offset_m(np.array([top.lon]), np.array([top.lat]))
    assert abs(dx[0] - 300) <= 150 and abs(dy[0] + 200) <= 150


def test_forecast_default_is_auto_and_says_what_it_is_worth(point_csv, tmp_path, capsys):
    out = tmp_path / "auto.csv"
    code = main(["forecast", *_csv_args(point_csv), "--until", "2025-08-01", "--cell", "150", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    cells = pd.read_csv(out)
    assert list(cells.columns) == ["cell_id", "lon", "lat", "min_lon", "min_lat", "max_lon", "max_lat", "risk"]
    assert "自动选择方法" in err and "滚动回测" in err and "5% 区域" in err
    top = cells.loc[cells["risk"].idxmax()]
    from tests._planted import offset_m

    dx, dy = offset_m(np.array([top.lon]), np.array([top.lat]))
    assert abs(dx[0] - 300) <= 225 and abs(dy[0] + 200) <= 225


def test_backtest_json_names_the_strongest_baseline(point_csv, capsys):
    code = main(["backtest", *_csv_args(point_csv), "--periods", "2", "--cell", "150",
                 "--methods", "naive_last,naive_all,naive_decay,auto", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(data["methods"]) == {"naive_last", "naive_all", "naive_decay", "auto"}
    pai = {m: v["coverage"]["5"]["pai"] for m, v in data["methods"].items() if m != "auto"}
    assert data["strongest_baseline_pai_5"] == max(pai, key=pai.get)


def test_bad_input_is_one_line_error(point_csv, tmp_path, capsys):
    code = main(["forecast", "--csv", str(point_csv), "--time", "nope", "--lon", "X", "--lat", "Y",
                 "--until", "2025-08-01", "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "nope" in err and "Traceback" not in err
    code = main(["backtest", *_csv_args(point_csv), "--methods", "oracle", "--json"])
    assert code == 2


def test_hotspots_geojson_from_store(demo_copy_url, tmp_path, capsys):
    out = tmp_path / "hot.geojson"
    code = main(["hotspots", "--start", "2026-05-01", "--end", "2026-11-01", "--db", demo_copy_url,
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text(encoding="utf-8"))
    kinds = {f["properties"]["kind"] for f in data["features"]}
    assert kinds == {"cluster", "gi_cell"}
    cells = [f["properties"] for f in data["features"] if f["properties"]["kind"] == "gi_cell"]
    hot = [c for c in cells if c["z"] > 0]
    assert hot and all(c["bin"] in (1, 2, 3) for c in hot)
    assert all({"count", "z", "p", "bin", "peak_windows", "category_mix", "emerging"} <= set(c) for c in cells)
    assert any(c["peak_windows"] for c in hot)
    clusters = [f for f in data["features"] if f["properties"]["kind"] == "cluster"]
    lon, lat = clusters[0]["geometry"]["coordinates"][0][0]
    assert 115.4 < lon < 117.6 and 39.4 < lat < 41.1  # WGS-84 Beijing


def test_gb18030_file_with_stray_zero_coordinates(tmp_path, capsys):
    ev = planted_events(n_background=400, start="2025-01-01", days=120, seed=3)
    frame = pd.DataFrame({"报警时间": ev.received_at.dt.tz_localize(None).astype(str), "经度": ev.lon, "纬度": ev.lat})
    frame.loc[0, ["经度", "纬度"]] = 0.0
    path = tmp_path / "gbk.csv"
    frame.to_csv(path, index=False, encoding="gb18030")
    out = tmp_path / "f.csv"
    code = main(["forecast", "--csv", str(path), "--time", "报警时间", "--lon", "经度", "--lat", "纬度",
                 "--until", "2025-04-01", "--horizon", "week", "--method", "kde_retrospective", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    cells = pd.read_csv(out)
    assert cells.lon.between(116.3, 116.5).all()  # the (0, 0) row did not stretch the grid


def test_far_flung_extent_is_refused_in_chinese(point_csv, tmp_path, capsys):
    code = main(["backtest", *_csv_args(point_csv), "--cell", "0.5", "--json"])
    assert code == 2 and "数据范围过大" in capsys.readouterr().err
