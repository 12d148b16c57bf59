"""A real bureau starts from an empty store (issue 10.8): reference files, users, incidents, a plan.

The store is built only through the command line, from the sample files in ``data/samples/`` (样例), on
SQLite and (with ``HOSPITAL_HOTSPOTS_TEST_PG``) on PostgreSQL. Bad reference rows are each accepted,
rejected with a Chinese reason, or counted as duplicates, and the counts add up.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import settings
from core.db import get_engine, is_demo, load_hospitals, load_officers, load_units
from geo.crs import from_wgs84, project
from geo.io.ingest import ImportError_
from geo.io.reference import import_reference, load_entrances, parse_rest_days, parse_shift
from planning.cli import main
from tests.plan_checker import check_plan

SAMPLES = settings.DATA_DIR / "samples"
MONTH = "2026-11"
ADMIN_PW = "Bootstrap-Admin-2026!"
OFFICER_PW = "Bootstrap-Officer-2026!"


def _cli_json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0, capsys.readouterr().err
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 1, lines  # one JSON summary line, like the incident import
    return json.loads(lines[0])


def _adds_up(summary: dict) -> None:
    assert summary["accepted"] + summary["rejected"] + summary["duplicates"] == summary["total"]
    assert summary["accepted"] == summary["inserted"] + summary["updated"]


def test_a_real_store_is_built_from_sample_files_and_makes_a_plan(store_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(settings, "DB_URL", store_url)
    db = ["--db", store_url]

    hosp = _cli_json(capsys, ["hospitals", "import", str(SAMPLES / "hospitals_sample.csv"), "--crs", "gcj02",
                              "--entrances", str(SAMPLES / "hospital_entrances_sample.csv"), *db])
    assert (hosp["total"], hosp["accepted"], hosp["rejected"]) == (4, 4, 0)
    assert hosp["entrances"]["accepted"] == 2 and hosp["entrances_written"] == 5
    units = _cli_json(capsys, ["units", "import", str(SAMPLES / "units_sample.csv"), *db])
    roster = _cli_json(capsys, ["roster", "import", str(SAMPLES / "roster_sample.csv"), *db])
    for s in (hosp, units, roster):
        _adds_up(s)
    assert (units["accepted"], roster["accepted"]) == (7, 15)

    engine = get_engine(store_url)
    assert not is_demo(engine)
    # GCJ-02 in the file, WGS-84 in the store: within a metre of the project's public WGS-84 hospital list.
    ref = pd.read_csv(settings.DATA_DIR / "beijing_hospitals.csv").set_index("hospital_id")
    stored = load_hospitals(engine).set_index("hospital_id")
    x, y, _ = project(stored["lon"].to_numpy(), stored["lat"].to_numpy())
    rx, ry, _ = project(ref.loc[stored.index, "lon"].to_numpy(), ref.loc[stored.index, "lat"].to_numpy())
    assert np.hypot(x - rx, y - ry).max() < 1.0
    assert stored.at["bj001", "grade"] == "三级甲等" and stored.at["bj003", "reg_open"] == "06:30"
    assert len(load_entrances(engine)) == 7

    # Users: an administrator and a stationed officer of a hospital the import created.
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PW + "\n"))
    assert main(["users", "add", "chief", "--role", "admin", "--password-stdin", *db]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(OFFICER_PW + "\n"))
    assert main(["users", "add", "xiehe1", "--role", "officer", "--hospital", "bj001", "--password-stdin", *db]) == 0
    from core.trust.auth import authenticate

    officer = authenticate(engine, "xiehe1", OFFICER_PW)
    assert officer.hospital_ids == frozenset({"bj001"})
    assert officer.officer_id in set(load_officers(engine).query("hospital_id == 'bj001'")["officer_id"])
    assert authenticate(engine, "chief", ADMIN_PW).role == "admin"
    capsys.readouterr()

    # The sample 110 export (synthetic calls, GB18030, a title row) ends in two bad rows and a repeated call.
    inc = _cli_json(capsys, ["import", str(SAMPLES / "incidents_sample.csv"), *db])
    assert inc["source"] == "110" and inc["encoding"] == "gb18030"
    assert (inc["rejected"], inc["duplicates"]) == (2, 1) and inc["accepted"] == inc["total"] - 3 > 300

    out = tmp_path / "plan"
    assert main(["plan", "--month", MONTH, "--out", str(out), "--seed", "11", "--formats", "json,xlsx"]) == 0
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert (out / "plan.xlsx").stat().st_size > 0
    assert check_plan(doc) == []
    assert doc["demo"] is False and doc["data_label"] == ""
    # The imported roster drives the plan: its stationed officers patrol, the station officers do not ...
    roster_df = load_officers(engine)
    stationed = set(roster_df.loc[roster_df["hospital_id"].notna(), "officer_id"])
    assert {o["officer_id"] for o in doc["officers"]} == stationed
    shifts = pd.DataFrame(doc["shifts"])
    assert set(shifts["officer_id"]) == stationed
    shifts["weekday"] = pd.to_datetime(shifts["date"]).dt.day_of_week + 1
    # ... each on the shift and the rest days the roster fixes.
    fixed = roster_df[(roster_df["shift"] != "") | (roster_df["rest_days"] != "")].set_index("officer_id")
    assert len(fixed) >= 4
    for oid, r in fixed.iterrows():
        mine = shifts[shifts["officer_id"] == oid]
        assert len(mine) > 0
        if r["shift"]:
            assert set(mine["shift"]) == {r["shift"]}, oid
        if r["rest_days"]:
            rest = {int(d) for d in r["rest_days"].split(",")}
            assert not (set(mine["weekday"]) & rest), oid
    # The imported entrances are the hospitals' fixed patrol points.
    points = pd.DataFrame(doc["points"])
    assert {"东门", "急诊入口"} <= set(points.loc[points["hospital_id"] == "bj001", "name"])
    assert len(doc["actions"]) >= 1
    assert {u["unit_id"] for a in doc["actions"] for u in a["units"]} <= set(load_units(engine)["unit_id"])


def _write(path: Path, header: list[str], rows: list[list], *, title: str | None = None, encoding="utf-8") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    if title:
        w.writerow([title])
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _states(result) -> dict[int, str]:
    """Row number -> 'rejected' for the quarantined rows (the rest are accepted or duplicates)."""
    assert result.accepted + result.rejected + result.duplicates == result.total
    rej = result.rejected_rows
    assert list(rej.columns[:2]) == ["行号", "原因"]
    assert (rej["原因"].str.len() > 0).all()
    if result.rejected:
        q = pd.read_csv(result.quarantine_path, dtype=str, encoding="utf-8-sig")
        assert len(q) == result.rejected
    return dict(zip(rej["行号"].astype(int), rej["原因"], strict=True))


def test_bad_hospital_rows_are_each_rejected_with_a_reason_and_counts_add_up(store_url, tmp_path):
    engine = get_engine(store_url)
    wgs = [116.409669, 39.910989]
    bd_lon, bd_lat = from_wgs84([wgs[0]], [wgs[1]], "bd09")
    rows = [
        ["h1", "甲医院", "三甲", "东城区", wgs[0], wgs[1], "7:00-17:00", f"东门@{wgs[0] + 0.0005},{wgs[1]}"],  # 3 ok
        ["h2", "乙医院", "二级甲等", "东城区", wgs[1], wgs[0], "", ""],  # 4 ok: lon/lat swapped, corrected
        ["h3", "丙医院", "", "", "", "", "", ""],  # 5 no coordinates
        ["h4", "丁医院", "", "", "abc", "39.9", "", ""],  # 6 not a number
        ["h5", "戊医院", "", "", "2.35", "48.85", "", ""],  # 7 outside China
        ["h6", "己医院", "", "", wgs[0], wgs[1], "17:00-07:00", ""],  # 8 registration closes before it opens
        ["h7", "庚医院", "", "", wgs[0], wgs[1], "七点", ""],  # 9 unreadable hours
        ["h8", "辛医院", "", "", wgs[0], wgs[1], "", "东门116.4,39.9"],  # 10 unreadable entrances
        ["h9", "壬医院", "", "", wgs[0], wgs[1], "", f"远门@{wgs[0] + 0.05},{wgs[1]}"],  # 11 entrance 4 km away
        ["", "癸医院", "", "", wgs[0], wgs[1], "", ""],  # 12 no id
        ["h1", "甲医院（重复）", "", "", wgs[0], wgs[1], "", ""],  # 13 repeated id: duplicate
        ["h 10", "子医院", "", "", wgs[0], wgs[1], "", ""],  # 14 id with a space
        ["", "", "", "", "", "", "", ""],  # blank: not a data row
        ["h11", "丑医院", "", "", float(bd_lon[0]), float(bd_lat[0]), "", ""],  # 16 BD-09 row (坐标系 below)
    ]
    header = ["医院编号", "医院名称", "等级", "所属区", "经度", "纬度", "挂号时间", "出入口"]
    path = _write(tmp_path / "医院.csv", header, rows, title="医院名单（测试）", encoding="gb18030")
    res = import_reference("hospitals", path, engine=engine)
    assert res.encoding == "gb18030" and res.header_row == 2
    assert res.total == 13  # the blank row is not counted
    reasons = _states(res)
    assert set(reasons) == {5, 6, 7, 8, 9, 10, 11, 12, 14}, reasons
    assert "缺少经纬度" in reasons[5] and "不是数字" in reasons[6] and "中国境内" in reasons[7]
    assert "挂号结束时间" in reasons[8] and "挂号时间格式" in reasons[9] and "出入口格式" in reasons[10]
    assert "距医院超过" in reasons[11] and "缺少医院编号" in reasons[12] and "医院编号" in reasons[14]
    assert (res.accepted, res.duplicates) == (3, 1)
    stored = load_hospitals(engine).set_index("hospital_id")
    assert stored.at["h1", "name"] == "甲医院"  # the first of a repeated id is kept
    assert stored.at["h2", "lon"] == pytest.approx(wgs[0]) and stored.at["h2", "lat"] == pytest.approx(wgs[1])
    # BD-09 values read as WGS-84 lie hundreds of metres off, yet in China: accepted as written.
    assert abs(stored.at["h11", "lon"] - wgs[0]) > 0.003

    # The same file with a 坐标系 column: the BD-09 row converts to the hospital's WGS-84 point.
    rows[-1] = [*rows[-1], "BD-09"]
    path = _write(tmp_path / "医院2.csv", [*header, "坐标系"], [r + [""] * (9 - len(r)) for r in rows])
    res2 = import_reference("hospitals", path, engine=engine)
    _states(res2)
    stored = load_hospitals(engine).set_index("hospital_id")
    assert stored.at["h11", "lon"] == pytest.approx(wgs[0], abs=2e-5)
    assert stored.at["h11", "lat"] == pytest.approx(wgs[1], abs=2e-5)
    # Unchanged rows are duplicates; the corrected one is an update.
    assert (res2.inserted, res2.updated, res2.duplicates, res2.rejected) == (0, 1, 3, res.rejected)


def test_hospital_xlsx_with_an_entrance_sheet_updates_and_replaces_entrances(store_url, tmp_path):
    import openpyxl

    engine = get_engine(store_url)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "医院"
    ws.append(["编号", "简称", "全称", "经度", "纬度", "挂号开始", "挂号结束", "出入口"])
    ws.append(["x1", "一院", "第一人民医院", 116.40, 39.90, dt.time(7, 30), dt.time(16, 0), "南门@116.4,39.8995"])
    ws.append(["x2", "二院", "", 116.30, 39.95, "", "", ""])
    es = wb.create_sheet("出入口")
    es.append(["医院", "出入口名称", "经度", "纬度"])
    es.append(["二院", "东门", 116.3006, 39.95])
    es.append(["x3", "东门", 116.3, 39.95])  # unknown hospital
    es.append(["x2", "西门", 116.3, 39.97])  # 2.2 km away
    buf = io.BytesIO()
    wb.save(buf)
    res = import_reference("hospitals", buf.getvalue(), filename="hospitals.xlsx", engine=engine)
    assert (res.total, res.accepted, res.rejected) == (2, 2, 0) and res.encoding == "xlsx"
    assert load_hospitals(engine).set_index("hospital_id").at["x1", "reg_open"] == "07:30"
    ent = res.entrances
    assert (ent.total, ent.accepted, ent.rejected) == (3, 1, 2)
    reasons = _states(ent)
    assert "不在医院名单中" in reasons[3] and "距医院超过" in reasons[4]
    got = load_entrances(engine)
    assert sorted(zip(got["hospital_id"], got["name"], strict=True)) == [("x1", "南门"), ("x2", "东门")]

    # A corrected list: x1's 出入口 cell now names other gates (the old one goes), x2's name changed.
    wb2 = openpyxl.Workbook()
    ws2 = wb2.active
    ws2.append(["编号", "简称", "经度", "纬度", "出入口"])
    ws2.append(["x1", "一院", 116.40, 39.90, "北门@116.4,39.9005；急诊@116.4006,39.9"])
    ws2.append(["x2", "第二医院", 116.30, 39.95, ""])
    buf2 = io.BytesIO()
    wb2.save(buf2)
    res2 = import_reference("hospitals", buf2.getvalue(), filename="v2.xlsx", engine=engine)
    assert (res2.updated, res2.duplicates, res2.entrances_written) == (2, 0, 2)
    got = load_entrances(engine)
    assert sorted(zip(got["hospital_id"], got["name"], strict=True)) == [("x1", "北门"), ("x1", "急诊"), ("x2", "东门")]


def _base_store(engine, tmp_path) -> None:
    _write(tmp_path / "h.csv", ["医院编号", "医院名称", "所属区", "经度", "纬度"],
           [["h1", "甲医院", "东城区", 116.41, 39.91], ["h2", "乙医院", "西城区", 116.36, 39.89]])
    import_reference("hospitals", tmp_path / "h.csv", engine=engine)


def test_bad_unit_and_roster_rows_are_each_accounted_for(store_url, tmp_path):
    engine = get_engine(store_url)
    with pytest.raises(ImportError_, match="请先导入医院名单"):
        import_reference("units", _write(tmp_path / "u0.csv", ["单位编号", "单位名称", "类型"], [["u", "x", "派出所"]]),
                         engine=engine)
    _base_store(engine, tmp_path)
    with pytest.raises(ImportError_, match="请先导入警力单位"):
        import_reference("roster", _write(tmp_path / "r0.csv", ["警号", "姓名", "单位"], [["1", "张三", "u"]]),
                         engine=engine)
    units = [
        ["U1", "甲院警务室", "驻院", "", "甲医院", 3],  # 2 ok (hospital by name; district from the hospital)
        ["U2", "乙院警务室", "驻院警务室", "", "h2", 2],  # 3 ok
        ["P1", "某派出所", "派出所", "东城区", "", 5],  # 4 ok
        ["R1", "机动队", "机动警力", "", "", 10],  # 5 ok
        ["U3", "无院警务室", "驻院", "", "", 2],  # 6 stationed without a hospital
        ["U4", "错院警务室", "驻院", "", "不存在医院", 2],  # 7 unknown hospital
        ["P2", "无区派出所", "派出所", "", "", 5],  # 8 station without a district
        ["X1", "某单位", "交警", "", "", 5],  # 9 unknown kind
        ["P3", "某派出所", "派出所", "西城区", "", -1],  # 10 negative forces
        ["P1", "某派出所", "派出所", "东城区", "", 5],  # 11 repeated: duplicate
    ]
    res = import_reference("units", _write(tmp_path / "u.csv", ["单位编号", "单位名称", "单位类型", "所属区",
                                                                "所驻医院", "每日可抽调警力"], units), engine=engine)
    reasons = _states(res)
    assert set(reasons) == {6, 7, 8, 9, 10}
    assert "须填写所驻医院" in reasons[6] and "不在医院名单中" in reasons[7] and "所属区" in reasons[8]
    assert "单位类型" in reasons[9] and "非负整数" in reasons[10]
    assert (res.accepted, res.duplicates) == (4, 1)
    u = load_units(engine).set_index("unit_id")
    assert u.at["U1", "hospital_id"] == "h1" and u.at["U1", "district"] == "东城区" and u.at["U1", "kind"] == "stationed"

    roster = [
        ["A1", "张三", "U1", "", "早班", "周六、周日", "在岗"],  # 2 ok
        ["A2", "李四", "甲院警务室", "", "晚", "六日", ""],  # 3 ok (unit by name, 晚 -> 晚班)
        ["A3", "王五", "U2", "13800001111", "轮换", "轮休", "在岗"],  # 4 ok
        ["A4", "赵六", "P1", "", "", "", "在岗"],  # 5 ok (station officer, no hospital)
        ["A5", "钱七", "U9", "", "", "", ""],  # 6 unknown unit
        ["A6", "孙八", "U1", "", "夜班", "", ""],  # 7 unknown shift
        ["A7", "周九", "U1", "", "", "周八", ""],  # 8 unreadable rest days
        ["A8", "吴十", "U1", "", "", "周日", ""],  # 9 one rest day a week: over the weekly hours
        ["A9", "郑一", "U1", "电话号码", "", "", ""],  # 10 bad phone
        ["B1", "冯二", "U1", "", "", "", "请假中"],  # 11 unreadable state
        ["B2", "陈三", "P1", "", "", "", ""],  # 12 ok
        ["A1", "张三", "U1", "", "早班", "周六、周日", "在岗"],  # 13 repeated: duplicate
        ["B3", "", "U1", "", "", "", ""],  # 14 no name
    ]
    header = ["警号", "姓名", "所属单位", "联系电话", "班次", "休息日", "状态"]
    res = import_reference("roster", _write(tmp_path / "r.csv", header, roster), engine=engine)
    reasons = _states(res)
    assert set(reasons) == {6, 7, 8, 9, 10, 11, 14}
    assert "所属单位" in reasons[6] and "班次" in reasons[7] and "休息日格式" in reasons[8]
    assert "少于 2 天" in reasons[9] and "联系电话" in reasons[10] and "状态" in reasons[11] and "姓名" in reasons[14]
    assert (res.accepted, res.duplicates) == (5, 1)
    o = load_officers(engine).set_index("officer_id")
    assert o.at["A1", "hospital_id"] == "h1" and o.at["A1", "shift"] == "早班" and o.at["A1", "rest_days"] == "6,7"
    assert o.at["A2", "unit_id"] == "U1" and o.at["A2", "shift"] == "晚班"
    assert pd.isna(o.at["A4", "hospital_id"])

    # A second roster: A3 leaves (停用), A1 changes shift; unchanged rows are duplicates.
    roster2 = [["A1", "张三", "U1", "", "晚班", "周六、周日", "在岗"], ["A3", "王五", "U2", "13800001111", "", "", "停用"],
               ["A4", "赵六", "P1", "", "", "", "在岗"]]
    res = import_reference("roster", _write(tmp_path / "r2.csv", header, roster2), engine=engine)
    assert (res.updated, res.duplicates, res.rejected) == (2, 1, 0)
    o = load_officers(engine).set_index("officer_id")
    assert o.at["A1", "shift"] == "晚班" and not bool(o.at["A3", "active"])


def test_a_file_without_the_required_columns_is_refused_whole(store_url, tmp_path):
    engine = get_engine(store_url)
    path = _write(tmp_path / "h.csv", ["医院编号", "医院名称", "等级"], [["h1", "甲医院", "三甲"]])
    with pytest.raises(ImportError_, match="缺少必需的列：经度"):
        import_reference("hospitals", path, engine=engine)
    assert load_hospitals(engine).empty
    assert main(["hospitals", "import", str(path), "--db", store_url]) == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("周六、周日", "6,7"), ("星期一,星期三", "1,3"), ("六日", "6,7"), ("6,7", "6,7"), ("轮休", ""), ("", ""),
    ("周八", None), ("礼拜天 周六", "6,7"),
])
def test_rest_days_are_read_as_written_in_rosters(text, expected):
    assert parse_rest_days(text) == expected


def test_shift_names_follow_the_shift_settings():
    assert parse_shift("早") == "早班" and parse_shift("晚班") == "晚班" and parse_shift("轮换") == ""
    assert parse_shift("夜班") is None
    assert parse_shift("夜班", {"早班": (), "夜班": ()}) == "夜班"


def test_make_run_never_puts_the_demo_into_a_store_being_set_up(store_url, capsys):
    # `make run` calls `demo --if-missing`: a store with a real hospital list but no incidents yet stays real.
    _cli_json(capsys, ["hospitals", "import", str(SAMPLES / "hospitals_sample.csv"), "--crs", "gcj02",
                       "--db", store_url])
    assert main(["demo", "--if-missing", "--db", store_url, "--scale", "0.05", "--months", "2"]) == 0
    assert "跳过" in capsys.readouterr().err
    engine = get_engine(store_url)
    assert not is_demo(engine) and len(load_hospitals(engine)) == 4
