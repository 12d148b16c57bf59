"""CLI: `python -m planning keylist|plan|outcomes` on a store; plan.json passes the independent checker."""

from __future__ import annotations

import json

import pytest

from planning.cli import main
from tests._planning_store import MONTH, writable
from tests.plan_checker import check_plan


@pytest.fixture
def store(tmp_path_factory, monkeypatch):
    from core import settings

    engine = writable(tmp_path_factory, "cli")
    monkeypatch.setattr(settings, "DB_URL", engine.url.render_as_string(hide_password=False))
    return engine


def test_keylist_json(store, capsys):
    assert main(["keylist", "--month", MONTH, "--json", "--size", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["demo"] and out["data_label"] == "演示数据（合成）"
    top = out["hospitals"][0]
    assert top["hospital_id"] == "bj001" and top["proposal"] == "列入" and "警情" in top["reasons"]
    assert sum(h["listed"] for h in out["hospitals"]) == 2


def test_keylist_text_and_bad_month(store, capsys):
    assert main(["keylist", "--month", MONTH]) == 0
    assert "重点医院名单建议" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["keylist", "--month", "2026-13"])
    assert exc.value.code == 2
    assert "YYYY-MM" in capsys.readouterr().err


def test_plan_writes_every_file_and_is_reproducible(store, tmp_path, capsys):
    out1, out2 = tmp_path / "a", tmp_path / "b"
    assert main(["plan", "--month", MONTH, "--out", str(out1), "--seed", "42", "--block", "2026-11-16"]) == 0
    msg = capsys.readouterr().out
    assert "随机种子42" in msg and "演示数据（合成）" in msg
    for name in ("plan.pdf", "plan.xlsx", "plan.json", "hotspots.geojson"):
        assert (out1 / name).stat().st_size > 0
    doc = json.loads((out1 / "plan.json").read_text(encoding="utf-8"))
    assert doc["seed"] == 42 and doc["rules"]["blocked_dates"] == ["2026-11-16"]
    assert check_plan(doc) == []
    assert {p.stem for p in (out1 / "ics").glob("*.ics")} == {s["officer_id"] for s in doc["shifts"]}
    # Names are masked unless --personal.
    assert all("*" in o["name"] for o in doc["officers"])
    assert main(["plan", "--month", MONTH, "--out", str(out2), "--seed", "42", "--block", "2026-11-16",
                 "--formats", "json"]) == 0
    assert not (out2 / "plan.pdf").exists()
    doc2 = json.loads((out2 / "plan.json").read_text(encoding="utf-8"))
    assert doc2["visits"] == doc["visits"] and doc2["actions"] == doc["actions"]


def test_plan_infeasible_is_a_one_line_chinese_error(store, tmp_path, capsys):
    days = [f"--block=2026-11-{d:02d}" for d in range(1, 31)]
    assert main(["plan", "--month", MONTH, "--out", str(tmp_path), "--seed", "1", *days]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误") and "屏蔽日期" in err and len(err.strip().splitlines()) == 1


def test_outcomes_table(store, capsys):
    import datetime as dt

    from planning.outcomes import record_daily_outcome

    assert main(["outcomes", "--month", MONTH]) == 0
    assert "尚无上报" in capsys.readouterr().out
    record_daily_outcome(store, hospital_id="bj001", date=dt.date(2026, 11, 3), visits_done=11, scalpers_caught=2)
    assert main(["outcomes", "--month", MONTH]) == 0
    out = capsys.readouterr().out
    assert "抓获号贩子（人）" in out and "北京协和医院" in out and "合计" in out
