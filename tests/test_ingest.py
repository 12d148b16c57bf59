"""Importers: encodings, title rows, header mapping, dates, coordinates, accounting of every row."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from core.db import ImportBatch, incident_count, load_incidents, session_scope
from geo import crs
from geo.io.ingest import ImportError_, import_file, parse_datetimes

# 北京协和医院 in WGS-84 (data/beijing_hospitals.csv) and 300 m east of it.
PUMCH = (116.409669, 39.910989)


def east_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    return lon + metres / (111_320 * np.cos(np.radians(lat))), lat


def csv_bytes(rows: list[list[object]], *, encoding: str = "utf-8", title: str | None = None) -> bytes:
    buf = io.StringIO()
    if title:
        buf.write(title + "\n")
    for r in rows:
        buf.write(",".join("" if v is None else str(v) for v in r) + "\n")
    return buf.getvalue().encode(encoding)


HEADER = ["警情编号", "报警时间", "报警地址", "经度", "纬度", "简要警情"]


def good_rows(n: int = 3) -> list[list[object]]:
    return [HEADER] + [
        [f"A{i}", f"2026-10-0{i + 1} 07:4{i}", "东城区帅府园", PUMCH[0], PUMCH[1], "门诊大厅有人倒卖专家号"]
        for i in range(n)
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_encodings_are_detected_and_title_row_skipped(empty_engine, encoding):
    data = csv_bytes(good_rows(), encoding=encoding, title="XX市公安局110接处警登记表,,,,,")
    r = import_file(data, source="110", engine=empty_engine, filename="x.csv")
    assert (r.total, r.accepted, r.rejected, r.duplicates) == (3, 3, 0, 0)
    df = load_incidents(empty_engine)
    assert df["description"].iloc[0] == "门诊大厅有人倒卖专家号"
    assert set(df["category"]) == {"号贩子/倒号"}
    assert set(df["hospital_id"]) == {"bj001"}


def test_reimport_changes_nothing(empty_engine, demo_files):
    first = import_file(demo_files["calls"], source="110", crs="gcj02", engine=empty_engine)
    n = incident_count(empty_engine)
    assert first.accepted == n > 0
    again = import_file(demo_files["calls"], source="110", crs="gcj02", engine=empty_engine)
    assert (again.accepted, again.duplicates, again.rejected) == (0, first.accepted, first.rejected)
    assert incident_count(empty_engine) == n


def test_every_row_is_accounted_for_with_row_numbers_and_reasons(empty_engine):
    lon_out, lat_out = 2.35, 48.85  # Paris
    rows = [
        HEADER,
        ["B1", "2026/10/03 07:42", "a", PUMCH[0], PUMCH[1], "有人倒号"],  # ok
        ["B2", "not a date", "a", PUMCH[0], PUMCH[1], "x"],  # bad date
        ["B3", "2026/10/03 07:42", "a", lon_out, lat_out, "x"],  # outside China
        ["B4", "2026/10/03 07:42", "a", "", "", "x"],  # no place
        ["B1", "2026/10/03 07:42", "a", PUMCH[0], PUMCH[1], "有人倒号"],  # duplicate in file
        ["", "2026/10/03 07:42", "a", PUMCH[0], PUMCH[1], "x"],  # no id
        ["B7", "2099/10/03 07:42", "a", PUMCH[0], PUMCH[1], "x"],  # future
        ["B8", "2026/10/03 07:42", "a", "abc", PUMCH[1], "x"],  # not a number
        [],  # blank line: not a data row
    ]
    r = import_file(csv_bytes(rows), source="110", engine=empty_engine, filename="bad.csv")
    assert r.total == 8
    assert r.accepted + r.rejected + r.duplicates == r.total
    assert (r.accepted, r.duplicates, r.rejected) == (1, 1, 6)
    reasons = dict(zip(r.rejected_rows["行号"], r.rejected_rows["原因"], strict=True))
    # Spreadsheet row numbers: header on row 1, so B2 is on row 3.
    assert "时间" in reasons[3] and "中国" in reasons[4] and "坐标" in reasons[5]
    assert "编号" in reasons[7] and "当前时间" in reasons[8] and "数字" in reasons[9]
    q = pd.read_csv(r.quarantine_path, dtype=str, encoding="utf-8-sig")
    assert q["行号"].astype(int).tolist() == sorted(reasons) and q["警情编号"].iloc[0] == "B2"
    with session_scope(empty_engine) as s:
        b = s.execute(select(ImportBatch)).scalar_one()
        assert (b.total, b.accepted, b.rejected, b.duplicates) == (8, 1, 6, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-03 07:42", "2026-11-03 07:42:00"),
        ("2026-11-03T07:42:05", "2026-11-03 07:42:05"),
        ("2026/11/03 07:42", "2026-11-03 07:42:00"),
        ("2026/11/3 7:42", "2026-11-03 07:42:00"),
        ("2026.11.03 07:42", "2026-11-03 07:42:00"),
        ("2026年11月3日 7时42分", "2026-11-03 07:42:00"),
        ("2026年11月3日7时42分10秒", "2026-11-03 07:42:10"),
        ("20261103074200", "2026-11-03 07:42:00"),
        ("2026-11-02T23:42:00Z", "2026-11-03 07:42:00"),
        ("2026-11-03T07:42:00+08:00", "2026-11-03 07:42:00"),
        ("46329.32083333", "2026-11-03 07:42:00"),
    ],
)
def test_date_formats(text, expected):
    assert parse_datetimes(pd.Series([text])).iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("bad", ["2026-13-01 07:00", "2026-02-30", "昨天上午", "", "7:42"])
def test_impossible_dates_are_not_guessed(bad):
    assert pd.isna(parse_datetimes(pd.Series([bad])).iloc[0])


def test_date_and_time_in_two_columns():
    out = parse_datetimes(pd.Series(["2026-11-03", "2026/11/04", "2026-11-05 00:00:00"]),
                          pd.Series(["7:42", "7时05分", "0.5"]))
    assert out.tolist() == [pd.Timestamp("2026-11-03 07:42"), pd.Timestamp("2026-11-04 07:05"),
                            pd.Timestamp("2026-11-05 12:00")]


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_chinese_map_coordinates_are_converted_to_wgs84(empty_engine, system):
    lon, lat = crs.from_wgs84(*east_of(*PUMCH, 120), system)
    rows = [HEADER, ["C1", "2026-10-01 08:00", "a", f"{float(lon):.7f}", f"{float(lat):.7f}", "x"]]
    import_file(csv_bytes(rows), source="110", crs=system, engine=empty_engine)
    df = load_incidents(empty_engine)
    truth = east_of(*PUMCH, 120)
    assert crs.haversine_m(df["lon"].iloc[0], df["lat"].iloc[0], *truth) < 1.0
    assert abs(df["hospital_distance_m"].iloc[0] - 120) < 2


def test_swapped_lat_lon_is_detected(empty_engine):
    rows = [HEADER, ["D1", "2026-10-01 08:00", "a", PUMCH[1], PUMCH[0], "x"]]
    r = import_file(csv_bytes(rows), source="110", engine=empty_engine)
    assert r.accepted == 1 and r.swapped == 1
    assert load_incidents(empty_engine)["hospital_id"].iloc[0] == "bj001"


def test_complaint_without_coordinates_is_placed_at_named_hospital(empty_engine):
    rows = [["工单编号", "受理时间", "涉及医院", "反映内容"],
            ["T1", "2026-10-01 08:00", "中国医学科学院北京协和医院", "网上挂号被医托骗"],
            ["T2", "2026-10-01 08:00", "不存在的医院", "x"]]
    r = import_file(csv_bytes(rows), source="complaint", engine=empty_engine)
    assert (r.accepted, r.rejected, r.approximate) == (1, 1, 1)
    row = load_incidents(empty_engine).iloc[0]
    assert bool(row["approximate"]) and row["hospital_id"] == "bj001"
    assert (row["lon"], row["lat"]) == PUMCH
    assert "医院" in r.rejected_rows["原因"].iloc[0]


def test_nearest_hospital_respects_the_radius(empty_engine):
    rows = [HEADER] + [[f"R{m}", "2026-10-01 08:00", "a", *east_of(*PUMCH, m), "x"] for m in (100, 450, 700)]
    import_file(csv_bytes(rows), source="110", engine=empty_engine, radius_m=500)
    df = load_incidents(empty_engine).set_index("source_id")
    assert df.loc["R100", "hospital_id"] == "bj001" and df.loc["R450", "hospital_id"] == "bj001"
    assert pd.isna(df.loc["R700", "hospital_id"])


def test_xlsx_named_sheet_with_title_row(empty_engine, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表为示例"])
    ws = wb.create_sheet("警情")
    ws.append(["XX市公安局110接处警登记表"])
    for r in good_rows(2):
        ws.append(r)
    path = tmp_path / "x.xlsx"
    wb.save(path)
    r = import_file(path, source="110", sheet="警情", engine=empty_engine)
    assert (r.total, r.accepted) == (2, 2)
    with pytest.raises(ImportError_, match="工作表"):
        import_file(path, source="110", sheet="不存在", engine=empty_engine)


def test_failed_import_leaves_store_unchanged(empty_engine, monkeypatch):
    import_file(csv_bytes(good_rows(2)), source="110", engine=empty_engine)
    before = incident_count(empty_engine)
    import geo.io.ingest as ingest

    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest, "_write_quarantine", boom)
    rows = [*good_rows(0), ["N1", "2026-10-05 07:00", "a", PUMCH[0], PUMCH[1], "x"], ["N2", "bad", "a", 1, 1, "x"]]
    with pytest.raises(RuntimeError):
        import_file(csv_bytes(rows), source="110", engine=empty_engine)
    assert incident_count(empty_engine) == before
    with session_scope(empty_engine) as s:
        assert len(s.execute(select(ImportBatch)).all()) == 1


def test_files_without_a_recognisable_header_give_a_clear_error(empty_engine):
    with pytest.raises(ImportError_, match="表头"):
        import_file(csv_bytes([["a", "b"], ["1", "2"]]), source="110", engine=empty_engine)


def test_cli_import_prints_json_and_fails_cleanly(tmp_path, demo_files, store_url):
    db = store_url
    ok = subprocess.run([sys.executable, "-m", "planning", "import", str(demo_files["complaints"]), "--crs", "gcj02",
                         "--db", db], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    import json

    out = json.loads(ok.stdout)
    assert out["source"] == "complaint"
    assert out["total"] == out["accepted"] + out["rejected"] + out["duplicates"] > 0
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 10)
    bad = subprocess.run([sys.executable, "-m", "planning", "import", str(junk), "--db", db],
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_a_stray_nul_byte_rejects_its_row_not_the_file(empty_engine):
    data = "警情编号,报警时间,经度,纬度,简要警情\nA1,2026-10-01 08:00,116.4097,39.911,倒号\nA2,2026-10-01 08:00,116.4097,39.911,倒\x00号\n"
    r = import_file(data.encode("gb18030"), source="110", engine=empty_engine)
    assert (r.total, r.accepted, r.rejected) == (2, 1, 1)
    assert r.rejected_rows["行号"].tolist() == [3] and "字符" in r.rejected_rows["原因"].iloc[0]


def _mixed_rows(n: int) -> list[list[object]]:
    rows = [HEADER]
    for i in range(n):
        lon, lat = east_of(*PUMCH, (i % 50) * 20)
        rows.append([f"P{i}", f"2026-10-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}", f" 地址{i % 7} ", lon, lat, "有人倒号"])
    rows[5][1] = "not a date"
    rows[9][3] = "abc"
    rows[12] = list(rows[11])  # duplicate within the file
    rows[20][0] = ""
    return rows


def _second_store(store_kind: str, request: pytest.FixtureRequest, tmp_path) -> str:
    """URL of another fresh store of the same kind."""
    if store_kind == "sqlite":
        return f"sqlite:///{tmp_path / 'second.sqlite'}"
    dbs = request.getfixturevalue("pg_databases")
    url = dbs.create()
    request.addfinalizer(lambda: dbs.drop(url))
    return url


def test_large_files_parsed_in_a_helper_process_give_the_same_result(empty_engine, store_kind, request, tmp_path,
                                                                      monkeypatch):
    import geo.io.ingest as ingest
    from core.db import get_engine

    data = csv_bytes(_mixed_rows(400), encoding="gb18030", title="XX市公安局110接处警登记表")
    inline = import_file(data, source="110", engine=empty_engine, filename="a.csv")
    monkeypatch.setattr(ingest, "PARALLEL_MIN_ROWS", 100)
    started = []
    monkeypatch.setattr(ingest._Helper, "_start", staticmethod(lambda s=ingest._Helper._start: started.append(1) or s()))
    other = get_engine(_second_store(store_kind, request, tmp_path))
    from geo.io.hospitals import read_hospital_file, save_hospitals

    save_hospitals(other, read_hospital_file())
    helped = import_file(data, source="110", engine=other, filename="a.csv")
    assert started == [1]
    assert inline.summary() | {"batch_id": 0, "quarantine": ""} == helped.summary() | {"batch_id": 0, "quarantine": ""}
    assert (helped.total, helped.rejected, helped.duplicates) == (400, 3, 1)
    assert helped.rejected_rows["行号"].tolist() == inline.rejected_rows["行号"].tolist() == [7, 11, 22]
    cols = ["source_id", "received_at", "lon", "lat", "address", "category", "hospital_id", "hospital_distance_m"]
    a = load_incidents(empty_engine)[cols].sort_values("source_id").reset_index(drop=True)
    b = load_incidents(other)[cols].sort_values("source_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert a["address"].str.startswith("地址").all()  # cells are stripped


def test_helper_process_falls_back_to_the_robust_reader_for_very_wide_rows(empty_engine, monkeypatch):
    import geo.io.ingest as ingest

    monkeypatch.setattr(ingest, "PARALLEL_MIN_ROWS", 100)
    monkeypatch.setattr(ingest, "HEAD_ROWS", 50)
    rows = _mixed_rows(300)
    rows[250] = [*rows[250], *(["x"] * 30)]  # far wider than the header: the fast parser gives up
    r = import_file(csv_bytes(rows), source="110", engine=empty_engine, filename="wide.csv")
    assert r.total == 300 and r.accepted + r.rejected + r.duplicates == r.total
    assert 251 in r.rejected_rows["行号"].tolist()
    assert "列数" in r.rejected_rows.set_index("行号").loc[251, "原因"]


def test_the_first_of_repeated_ids_in_a_file_is_kept(empty_engine):
    rows = [HEADER, ["Q1", "2026-10-05 09:00", "第一条", *PUMCH, "有人倒号"],
            ["Q1", "2026-10-01 08:00", "第二条", *PUMCH, "有人倒号"]]
    r = import_file(csv_bytes(rows), source="110", engine=empty_engine)
    assert (r.accepted, r.duplicates) == (1, 1)
    row = load_incidents(empty_engine).iloc[0]
    assert row["address"] == "第一条" and row["received_at"].day == 5


def test_repeated_map_coordinates_are_each_converted_exactly(empty_engine):
    # Exports repeat gate coordinates; each distinct point is converted once and shared.
    points = [crs.from_wgs84(*east_of(*PUMCH, m), "gcj02") for m in (0, 150, 300)]
    rows = [HEADER] + [[f"G{i}", "2026-10-01 08:00", "a", f"{float(points[i % 3][0]):.7f}",
                        f"{float(points[i % 3][1]):.7f}", "x"] for i in range(30)]
    import_file(csv_bytes(rows), source="110", crs="gcj02", engine=empty_engine)
    df = load_incidents(empty_engine).sort_values("source_id")
    glon = np.array([float(r[3]) for r in rows[1:]])
    glat = np.array([float(r[4]) for r in rows[1:]])
    want_lon, want_lat = crs.to_wgs84(glon, glat, "gcj02")
    order = np.argsort([r[0] for r in rows[1:]])
    np.testing.assert_allclose(df["lon"].to_numpy(), want_lon[order], rtol=0, atol=1e-9)
    np.testing.assert_allclose(df["lat"].to_numpy(), want_lat[order], rtol=0, atol=1e-9)
    assert df["hospital_id"].eq("bj001").all()


def test_source_is_inferred_from_the_channel_column_when_the_file_does_not_say(empty_engine):
    rows = [["工单编号", "受理时间", "来源渠道", "涉及医院", "反映内容"],
            ["T1", "2026-10-01 08:00", "12320", "北京协和医院", "网上挂号被医托骗"]]
    r = import_file(csv_bytes(rows), engine=empty_engine, filename="records.csv")
    assert r.source == "complaint"
    with pytest.raises(ImportError_, match="来源"):
        import_file(csv_bytes([["编号", "时间", "经度", "纬度"], ["X1", "2026-10-01 08:00", 116.4, 39.9]]),
                    engine=empty_engine, filename="records.csv")
