"""Edits and re-planning: locked items stay, little else changes, and the cost in covered risk is reported."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from planning.replan import Edit, record_edits, replan
from tests._planning_store import base_plan
from tests.plan_checker import check_plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return base_plan(tmp_path_factory)


def test_move_an_action_keeps_the_others(plan):
    a = plan.actions.set_index("hospital_id")
    hid = "bj003"
    new_day = a.loc[hid, "date"] - dt.timedelta(days=3)
    start = pd.Timestamp(f"{new_day} 15:00", tz="Asia/Shanghai")
    res = replan(plan, [Edit("move", hospital_id=hid, start=start, hours=2, note="配合医院安排")])
    b = res.plan.actions.set_index("hospital_id")
    assert b.loc[hid, "start"] == start and bool(b.loc[hid, "locked"])
    others = [h for h in a.index if h != hid]
    assert (a.loc[others, "date"] == b.loc[others, "date"]).all()
    assert list(res.changed_actions["hospital_id"]) == [hid] or set(res.changed_actions["hospital_id"]) == {hid}
    # Moving off the peak costs covered risk, and the result says so in Chinese.
    assert res.action_risk_cost > 0 and "覆盖风险减少" in res.message
    # Patrols of other hospitals are untouched.
    key = ["officer_id", "point_id", "start"]
    old = plan.visits[plan.visits["hospital_id"] != hid][key].astype(str)
    new = res.plan.visits[res.plan.visits["hospital_id"] != hid][key].astype(str)
    pd.testing.assert_frame_equal(old.reset_index(drop=True), new.reset_index(drop=True))
    assert check_plan(json.loads(res.plan.to_json())) == []


def test_change_forces_and_mark_officer_absent(plan):
    hid = "bj001"
    units = plan.forces[plan.forces["hospital_id"] == hid]
    forces = {u: max(int(n) - 1, 0) for u, n in zip(units["unit_id"], units["officers"], strict=True)}
    off = plan.roster[plan.roster["hospital_id"] == "bj002"]["officer_id"].iloc[0]
    days = tuple(sorted(set(plan.roster.loc[plan.roster["officer_id"] == off, "date"]))[:5])
    res = replan(plan, [Edit("forces", hospital_id=hid, forces=forces),
                        Edit("absent", officer_id=off, dates=days)])
    f = res.plan.forces[res.plan.forces["hospital_id"] == hid]
    assert dict(zip(f["unit_id"], f["officers"].astype(int), strict=True)) == {k: v for k, v in forces.items() if v}
    gone = res.plan.visits[(res.plan.visits["officer_id"] == off) & res.plan.visits["date"].isin(days)]
    assert gone.empty
    # The absent officer's colleagues still patrol those days, and the rest of the month keeps most visits.
    assert not res.plan.visits[(res.plan.visits["hospital_id"] == "bj002") & res.plan.visits["date"].isin(days)].empty
    assert res.visits_kept > 0.6 * len(plan.visits)
    assert res.patrol_risk_cost >= -1e-9
    assert check_plan(json.loads(res.plan.to_json())) == []


def test_edits_are_validated_and_recorded(plan, tmp_path_factory):
    from sqlalchemy import select

    from core.db.schema import AuditEntry, PlanEdit
    from planning.plan import save_plan

    with pytest.raises(ValueError, match="kind"):
        Edit("delete", hospital_id="bj001")
    with pytest.raises(ValueError, match="start"):
        Edit("move", hospital_id="bj001")
    with pytest.raises(ValueError, match="hospital_id"):
        replan(plan, [Edit("lock", hospital_id="nowhere")])
    pid = save_plan(plan.engine, plan, username="cmd")
    record_edits(plan.engine, pid, [Edit("lock", hospital_id="bj001", note="已报批")], username="cmd")
    with plan.engine.connect() as conn:
        edits = pd.read_sql(select(PlanEdit).where(PlanEdit.plan_id == pid), conn)
        audit = pd.read_sql(select(AuditEntry).where(AuditEntry.action == "plan_edit"), conn)
    assert list(edits["kind"]) == ["lock"] and edits["note"].iloc[0] == "已报批"
    assert audit["detail"].str.contains(str(pid)).any()


def test_point_edits_and_the_predictability_warning(plan):
    """Suppressing all but one point of a hospital makes its patrols predictable, and the result says so."""
    hid = "bj001"
    pts = plan.points[plan.points["hospital_id"] == hid]
    keep = pts.iloc[0]
    edits = [Edit("point_suppress", point_id=p, note="施工") for p in pts["point_id"] if p != keep["point_id"]]
    res = replan(plan, edits)
    assert set(res.plan.visits.loc[res.plan.visits["hospital_id"] == hid, "point_id"]) == {keep["point_id"]}
    assert res.predictability.loc[hid, "after"] < res.predictability.loc[hid, "before"]
    assert any(w.startswith(plan.hospital_name(hid)) and "容易预测" in w for w in res.warnings)
    assert check_plan(json.loads(res.plan.to_json())) == []
    # Adding a named point gives it visits under its name; a modest edit raises no warning.
    add = Edit("point_add", hospital_id=hid, name="住院部北门", lon=float(keep["lon"]) + 0.0005,
               lat=float(keep["lat"]) + 0.0005)
    res2 = replan(plan, [add])
    new = res2.plan.points[res2.plan.points["name"] == "住院部北门"]
    assert len(new) == 1 and (res2.plan.visits["point_id"] == new["point_id"].iloc[0]).any()
    assert res2.warnings == []
    doc = json.loads(res2.plan.to_json())
    assert check_plan(doc) == []
    assert any(v["point"] == "住院部北门" for v in doc["visits"])


def test_saved_edits_carry_who_why_and_cost(plan, tmp_path_factory):
    from planning.lifecycle import list_plans, save_draft
    from planning.replan import plan_edits, save_replan
    from tests._planning_store import writable

    engine = writable(tmp_path_factory, "edits")
    plan = dataclasses_replace(plan, engine)
    pid = save_draft(engine, plan, username="chief")
    res = replan(plan, [Edit("lock", hospital_id="bj003")], engine=engine)
    new_id = save_replan(engine, pid, res, username="chief", why="医院要求")
    hist = plan_edits(engine, pid)
    assert list(hist["kind"]) == ["lock"] and hist["username"].iloc[0] == "chief" and hist["note"].iloc[0] == "医院要求"
    assert hist["new_plan_id"].iloc[0] == new_id and hist["patrol_risk_cost"].notna().all()
    assert [p.status for p in list_plans(engine)] == ["draft", "superseded"]


def dataclasses_replace(plan, engine):
    import dataclasses

    return dataclasses.replace(plan, engine=engine)
