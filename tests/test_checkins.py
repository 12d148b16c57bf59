"""Check-ins and action results: validated, audited, editable only by their author or a commander in time."""

from __future__ import annotations

import datetime as dt

import pytest

from core.trust.access import scope_for_role
from tests._planning_store import MONTH, writable

CMD = scope_for_role("commander", username="chief")


@pytest.fixture(scope="module")
def approved(tmp_path_factory):
    from planning.lifecycle import approve_plan, load_document, save_draft
    from planning.plan import make_plan

    engine = writable(tmp_path_factory, "checkins")
    plan = make_plan(engine, month=MONTH, seed=4)
    pid = save_draft(engine, plan, username="chief")
    approve_plan(engine, pid, scope=CMD)
    return engine, pid, load_document(engine, pid)


def _officer(v, name="o1"):
    return scope_for_role("officer", username=name, hospital_id=v["hospital_id"], officer_id=v["officer_id"])


def _t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s[:19])


def test_checkin_rules(approved):
    from core.trust.audit import list_entries
    from planning.checkins import list_checkins, record_checkin

    engine, pid, doc = approved
    v, w = doc["visits"][0], doc["visits"][1]
    other = next(x for x in doc["visits"] if x["officer_id"] != v["officer_id"])
    me = _officer(v)
    after = _t(v["end"]) + dt.timedelta(minutes=5)
    # Not ahead of time, not someone else's visit, a reason when missed, an actual start when done.
    with pytest.raises(ValueError, match="尚不能签到"):
        record_checkin(engine, scope=me, plan_id=pid, visit_id=v["visit_id"], status="done",
                       actual_start=_t(v["start"]), now=_t(v["start"]) - dt.timedelta(hours=3))
    with pytest.raises(PermissionError):
        record_checkin(engine, scope=me, plan_id=pid, visit_id=other["visit_id"], status="done",
                       actual_start=_t(other["start"]), now=_t(other["end"]))
    with pytest.raises(ValueError, match="原因"):
        record_checkin(engine, scope=me, plan_id=pid, visit_id=v["visit_id"], status="missed", now=after)
    with pytest.raises(ValueError, match="实际到达"):
        record_checkin(engine, scope=me, plan_id=pid, visit_id=v["visit_id"], status="done", now=after)
    with pytest.raises(ValueError, match="0 到 10000"):
        record_checkin(engine, scope=me, plan_id=pid, visit_id=v["visit_id"], status="done",
                       actual_start=_t(v["start"]), now=after, warned_away=-1)
    with pytest.raises(PermissionError):
        record_checkin(engine, scope=scope_for_role("liaison", username="l"), plan_id=pid, visit_id=v["visit_id"],
                       status="done", actual_start=_t(v["start"]), now=after)
    cid = record_checkin(engine, scope=me, plan_id=pid, visit_id=v["visit_id"], status="done",
                         actual_start=_t(v["start"]) + dt.timedelta(minutes=2), findings="劝离2人", warned_away=2, now=after)
    # The author may correct it within the window, another officer may not, and nobody may after the window.
    assert record_checkin(engine, scope=me, plan_id=pid, visit_id=v["visit_id"], status="missed", reason="incident",
                          now=after + dt.timedelta(hours=1)) == cid
    with pytest.raises(PermissionError):
        record_checkin(engine, scope=_officer(v, "o2"), plan_id=pid, visit_id=v["visit_id"], status="missed",
                       reason="leave", now=after + dt.timedelta(hours=1))
    with pytest.raises(PermissionError, match="小时内修改"):
        record_checkin(engine, scope=CMD, plan_id=pid, visit_id=v["visit_id"], status="missed", reason="leave",
                       now=after + dt.timedelta(days=5))
    record_checkin(engine, scope=CMD, plan_id=pid, visit_id=w["visit_id"], status="missed", reason="other_duty",
                   now=_t(w["end"]))
    rows = list_checkins(engine, plan_id=pid)
    assert list(rows["status"]) == ["missed", "missed"] and set(rows["reason"]) == {"incident", "other_duty"}
    assert (list_entries(engine)["action"] == "checkin").sum() == 3


def test_action_result_rules_and_statistics(approved):
    from planning.outcomes import monthly_statistics, record_action_result

    engine, pid, doc = approved
    a = doc["actions"][0]
    day = dt.date.fromisoformat(a["date"])
    now = dt.datetime.combine(day, dt.time(20))
    unit = a["units"][0]["unit_id"]
    with pytest.raises(PermissionError):
        record_action_result(engine, scope=_officer(doc["visits"][0]), hospital_id=a["hospital_id"], date=day, now=now)
    with pytest.raises(ValueError, match="尚未到来"):
        record_action_result(engine, scope=CMD, hospital_id=a["hospital_id"], date=day, now=now - dt.timedelta(days=2))
    with pytest.raises(ValueError, match="未知参战单位"):
        record_action_result(engine, scope=CMD, hospital_id=a["hospital_id"], date=day, units={"NOPE": 3}, now=now)
    with pytest.raises(ValueError, match="少于"):
        record_action_result(engine, scope=CMD, hospital_id=a["hospital_id"], date=day, units={unit: 5}, officers=2,
                             now=now)
    record_action_result(engine, scope=CMD, hospital_id=a["hospital_id"], date=day, units={unit: 5}, officers=12,
                         scalpers_caught=3, persons_checked=30, plan_id=pid, now=now)
    # A second record of the same action replaces the first (within the window, by a commander).
    record_action_result(engine, scope=scope_for_role("commander", username="deputy"), hospital_id=a["hospital_id"],
                         date=day, units={unit: 5}, officers=12, scalpers_caught=4, persons_checked=30, now=now)
    total = monthly_statistics(engine, month=MONTH).set_index("name").loc["合计"]
    assert (total["actions_done"], total["action_officers"], total["scalpers_caught"]) == (1, 12, 4)
