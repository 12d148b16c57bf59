"""今日任务: a stationed officer's visits of the day on a phone — where, when, what to look for — and check-in."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import data, ui
from planning import lifecycle
from planning.checkins import MISSED_REASONS, STATUS_LABELS, record_checkin, todays_tasks

# Narrow screens: one column, large touch targets (fixed style sheet, no user data).
st.html("<style>.block-container{max-width:640px!important;padding:0.6rem 0.8rem!important}"
        " .stButton button{min-height:2.8rem;width:100%}</style>")
scope, _df = ui.page_start("今日任务")
engine = data.engine()
day = st.date_input("日期", value=lifecycle.today(), key="today_day", format="YYYY-MM-DD")
pid, tasks = todays_tasks(engine, scope=scope, on=day)
if pid is None:
    st.info(f"{day:%Y-%m} 的巡防计划尚未批准，暂无任务。")
    st.stop()
done = int((tasks["status"] == "done").sum())
c1, c2 = st.columns(2)
c1.metric("今日巡查", len(tasks))
c2.metric("已签到", int((tasks["status"] != "").sum()))
if tasks.empty:
    st.info("今天没有安排您的巡查（休息或参加集中行动）。")
    st.stop()
st.caption(f"方案{pid}。每次到点停留12–16分钟，结束后在下面签到；未能前往请选择原因。")
for r in tasks.itertuples(index=False):
    state = STATUS_LABELS.get(r.status, "待签到")
    peak = "　⚑高峰必巡" if r.peak else ""
    with st.container(border=True):
        st.markdown(f"**{r.start:%H:%M}–{r.end:%H:%M}　{r.point}**{peak}")
        st.caption(f"{r.hospital}　{r.officer}　状态：{state}")
        st.write(r.look_for)
        if r.status:
            continue
        with st.form(f"ck_{r.visit_id}", border=False):
            status = st.radio("结果", ["done", "missed"], format_func=STATUS_LABELS.get, horizontal=True,
                              key=f"ck_status_{r.visit_id}")
            at = st.time_input("实际到达", value=r.start.time(), key=f"ck_time_{r.visit_id}", step=60)
            reason = st.selectbox("未完成原因", ["", *list(MISSED_REASONS)], placeholder="请选择", format_func=lambda k: MISSED_REASONS.get(k, "—"),
                                  key=f"ck_reason_{r.visit_id}")
            warned = st.number_input("劝离（人）", min_value=0, max_value=999, value=0, key=f"ck_warn_{r.visit_id}")
            caught = st.number_input("查获号贩子/医托（人）", min_value=0, max_value=999, value=0,
                                     key=f"ck_caught_{r.visit_id}")
            findings = st.text_input("巡查情况", key=f"ck_find_{r.visit_id}", max_chars=500)
            if st.form_submit_button("签到", type="primary"):
                try:
                    record_checkin(
                        engine, scope=scope, plan_id=pid, visit_id=r.visit_id, status=status, reason=reason,
                        actual_start=dt.datetime.combine(r.start.date(), at) if status == "done" else None,
                        findings=findings, warned_away=int(warned) if status == "done" else 0,
                        scalpers_caught=int(caught) if status == "done" else 0,
                    )
                except (ValueError, PermissionError) as exc:
                    st.error(str(exc))
                else:
                    st.success("已签到。")
                    st.rerun()
if done == len(tasks):
    st.success("今日巡查已全部完成。")

