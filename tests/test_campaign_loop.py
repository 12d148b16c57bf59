"""The campaign loop walked as three users in the dashboard (AppTest) on a copy of the demo store.

A commander generates, edits and approves next month's plan; the stationed officer opens 今日任务,
downloads their calendar and checks a visit in; the commander records an action's results; the
statistics table and the 月度通报 show exactly those entries. The edited plan passes the independent
checker.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("streamlit")

from tests.plan_checker import check_plan
from tests.test_dashboard_pages import open_page, signed_in


@pytest.fixture
def loop_db(demo_copy_url, monkeypatch):
    from core import settings
    from dashboard import ui

    monkeypatch.setattr(settings, "DB_URL", demo_copy_url)
    monkeypatch.setattr(ui, "WARM_UP", False)
    return demo_copy_url


@pytest.mark.slow
def test_three_users_close_the_loop(loop_db):
    import pandas as pd

    from core.db import get_engine
    from core.trust.audit import list_entries
    from core.trust.auth import get_user
    from planning import lifecycle
    from planning.outcomes import monthly_statistics

    engine = get_engine(loop_db)
    # ---- commander: generate (a draft), edit (lock one action, with a reason), approve
    cmd = open_page(signed_in("commander"), "plan")
    month = cmd.selectbox(key="plan_month").value
    cmd.button(key="plan_go").click().run(timeout=600)
    assert not cmd.exception, [e.message for e in cmd.exception]
    draft = lifecycle.list_plans(engine, month=month)[0]
    assert draft.status == "draft" and lifecycle.approved_plan_id(engine, month) is None
    cmd.session_state["plan_actions"] = {"edited_rows": {0: {"locked": True}}, "added_rows": [], "deleted_rows": []}
    cmd.text_input(key="plan_why").set_value("医院要求固定行动时间").run()
    cmd.button(key="plan_replan").click().run(timeout=600)
    assert not cmd.exception, [e.message for e in cmd.exception]
    edited = lifecycle.list_plans(engine, month=month)[0]
    assert edited.parent_id == draft.plan_id and edited.status == "draft"
    doc = lifecycle.load_document(engine, edited.plan_id)
    assert check_plan(doc) == []
    assert sum(a["locked"] for a in doc["actions"]) == 1
    cmd.button(key="plan_approve").click().run(timeout=300)
    assert not cmd.exception, [e.message for e in cmd.exception]
    assert lifecycle.approved_plan_id(engine, month) == edited.plan_id
    assert any(e.action == "plan_approve" and f"方案{edited.plan_id}" in e.detail
               for e in list_entries(engine).itertuples())
    assert any(e.action == "plan_edit" for e in list_entries(engine).itertuples())

    # ---- stationed officer: calendar, 今日任务, check-in
    me = get_user(engine, "demo_officer")
    mine = [v for v in doc["visits"] if v["officer_id"] == me.officer_id]
    assert mine, "the demo officer has visits in the plan"
    visit = mine[0]
    off = open_page(signed_in("officer"), "plan")
    assert any(b.key == "plan_my_ics" for b in off.get("download_button"))
    assert any(b.key == "plan_my_duty" for b in off.get("download_button"))
    assert "None" not in off.dataframe[1].value.to_string()  # 我的班次: every date filled
    open_page(off, "today")
    off.date_input(key="today_day").set_value(pd.Timestamp(visit["start"][:10]).date()).run()
    assert not off.exception, [e.message for e in off.exception]
    assert any(visit["point"] in m.value for m in off.markdown)
    form_buttons = [b for b in off.button if b.label == "签到"]
    assert form_buttons
    off.number_input(key=f"ck_warn_{visit['visit_id']}").set_value(3)
    form_buttons[0].click().run()
    assert not off.exception, [e.message for e in off.exception]

    # ---- commander: record the results of the locked action
    act = next(a for a in doc["actions"] if a["locked"])
    ev = open_page(signed_in("commander"), "evaluation")
    ev.selectbox(key="ev_month").set_value(month).run()
    ev.selectbox(key="ev_res_act").set_value((act["hospital_id"], pd.Timestamp(act["date"]).date()))
    ev.number_input(key="ev_res_scalpers_caught").set_value(4)
    ev.number_input(key="ev_res_persons_checked").set_value(37)
    ev.number_input(key="ev_res_total").set_value(act["officers"])
    next(b for b in ev.button if b.label == "登记成果").click().run()
    assert not ev.exception, [e.message for e in ev.exception]

    # ---- statistics and bulletin show exactly those entries
    stats = monthly_statistics(engine, month=month)
    total = stats[stats["name"] == "合计"].iloc[0]
    assert total["actions_done"] == 1 and total["scalpers_caught"] == 4 and total["persons_checked"] == 37
    assert total["visits_done"] == 1 and total["warned_away"] == 3
    ev = open_page(signed_in("commander"), "evaluation")
    ev.selectbox(key="ev_month").set_value(month).run()
    table = next(d.value for d in ev.dataframe if "抓获号贩子（人）" in d.value.columns)
    row = table[table["医院"] == "合计"].iloc[0]
    assert row["抓获号贩子（人）"] == 4 and row["完成巡查（次）"] == 1 and row["劝离（人）"] == 3
    text = " ".join(m.value for m in ev.markdown)
    assert "开展集中行动1次" in text and "抓获号贩子4人" in text and "盘查37人" in text
    assert "完成1次" in text
    assert json.loads(json.dumps(doc))["month"] == month
