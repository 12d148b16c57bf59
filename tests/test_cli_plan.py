"""CLI: `python -m planning keylist|plan|plans|approve|edit|checkin|record|report|outcomes` on a store;
plan.json passes the independent checker before and after edits."""

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
    # Officers are named for the operator who assigns duty (officers are not the people masking protects).
    assert all("*" not in o["name"] and o["name"] for o in doc["officers"])
    # Every visit has its date and a point name, never a code.
    assert all(v["date"] == v["start"][:10] and not v["point"].startswith("bj") for v in doc["visits"])
    # The CLI stores a draft: nobody approved it.
    assert "草稿" in msg and "approve" in msg
    from planning.lifecycle import approved_plan_id, list_plans

    assert [p.status for p in list_plans(store, month=MONTH)] == ["draft"]
    assert approved_plan_id(store, MONTH) is None
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


def _as(monkeypatch, password: str) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))


def test_approve_edit_checkin_record_report_from_the_cli(store, tmp_path, capsys, monkeypatch):
    """The whole loop on the command line, each step as the user whose job it is."""
    import datetime as dt

    from core.trust.audit import list_entries
    from core.trust.auth import create_user
    from planning.lifecycle import approved_plan_id, list_plans, load_document

    pw = "Campaign-Loop-2026"
    create_user(store, "chief", pw, role="commander")
    assert main(["plan", "--month", MONTH, "--out", str(tmp_path / "p"), "--seed", "5", "--formats", "json"]) == 0
    draft = list_plans(store, month=MONTH)[0].plan_id
    capsys.readouterr()
    doc = load_document(store, draft)
    hid = doc["actions"][0]["hospital_id"]
    suppressed = next(p["point_id"] for p in doc["points"] if p["hospital_id"] == hid)
    _as(monkeypatch, pw)
    assert main(["edit", "--plan", str(draft), "--why", "门诊楼施工", "--suppress", suppressed, "--lock", hid,
                 "--user", "chief", "--password-stdin", "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert "巡逻覆盖风险" in out
    edited = json.loads((tmp_path / "e" / "plan.json").read_text(encoding="utf-8"))
    assert check_plan(edited) == []
    assert suppressed not in {v["point_id"] for v in edited["visits"]}
    new_id = list_plans(store, month=MONTH)[0].plan_id
    assert new_id != draft and list_plans(store, month=MONTH)[1].status == "superseded"
    # An operator without a commander's sign-in cannot approve.
    assert main(["approve", "--plan", str(new_id)]) == 2
    assert "指挥员" in capsys.readouterr().err
    _as(monkeypatch, pw)
    assert main(["approve", "--plan", str(new_id), "--user", "chief", "--password-stdin"]) == 0
    assert "已由 chief 批准" in capsys.readouterr().out
    assert approved_plan_id(store, MONTH) == new_id
    approval = [e for e in list_entries(store).itertuples() if e.action == "plan_approve"]
    assert len(approval) == 1 and f"方案{new_id}" in approval[0].detail and "SHA-256" in approval[0].detail

    # The stationed officer of a visit checks it in (the plan month is in the past here: the test store
    # ends in 2026-10, the plan is for 2026-11, and the clock is later).
    v = load_document(store, new_id)["visits"][0]
    create_user(store, "duty", pw, role="officer", hospital_id=v["hospital_id"], officer_id=v["officer_id"])
    _as(monkeypatch, pw)
    assert main(["checkin", "--plan", str(new_id), "--visit", v["visit_id"], "--status", "done", "--start",
                 v["start"][:16], "--warned-away", "2", "--user", "duty", "--password-stdin"]) == 0
    _as(monkeypatch, pw)
    assert main(["record", "--hospital", hid, "--date", doc["actions"][0]["date"], "--units", f"ZY-{hid}=2",
                 "--officers", "9", "--scalpers-caught", "3", "--user", "chief", "--password-stdin"]) == 0
    capsys.readouterr()
    assert main(["report", "workload", "--period", MONTH]) == 0
    table = capsys.readouterr().out
    assert "合计" in table and "抓获号贩子（人）" in table
    assert main(["report", "workload", "--period", "2026Q4", "--out", str(tmp_path / "w.xlsx")]) == 0
    assert main(["report", "bulletin", "--period", MONTH, "--out", str(tmp_path / "b.pdf")]) == 0
    assert (tmp_path / "b.pdf").read_bytes()[:4] == b"%PDF"
    assert main(["report", "dosage", "--period", MONTH]) == 0
    assert "完成1次" in capsys.readouterr().out
    assert dt.date.fromisoformat(doc["actions"][0]["date"]).month == 11
