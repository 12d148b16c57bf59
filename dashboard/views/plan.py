"""巡防计划: generate, edit, lock and approve the month's concentrated actions; schedules; exports."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.trust import audit
from dashboard import data, ui
from dashboard.safe import md
from planning.actions import ActionLock
from planning.export import geojson as export_geojson
from planning.export import ics as export_ics
from planning.export import pdf as export_pdf
from planning.export import xlsx as export_xlsx
from planning.plan import make_plan, save_plan

EXPORTS = (("pdf", "PDF 计划书", "application/pdf"), ("xlsx", "XLSX 排班表", "application/vnd.openxmlformats-"
           "officedocument.spreadsheetml.sheet"), ("ics", "ICS 日历", "text/calendar"),
           ("geojson", "GeoJSON 巡防点", "application/geo+json"))

EXPORTERS = {
    "pdf": export_pdf.export_pdf, "xlsx": export_xlsx.export_xlsx, "ics": export_ics.export_ics,
    "geojson": export_geojson.export_geojson,
}

scope, df = ui.page_start("巡防计划")
hospitals = data.hospitals(scope)
names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
can_edit = scope.role in ("commander", "admin")

c1, c2, c3 = st.columns([2, 1, 2])
month = c1.selectbox("计划月份", ui.month_options(df), index=0, key="plan_month")
seed = int(c2.number_input("随机种子", min_value=0, max_value=2**31 - 1, value=int(month.replace("-", "")),
                           key="plan_seed", help="相同种子生成相同的巡逻抽样，便于复核。"))
c3.caption("集中行动医院取本月重点医院清单（在“重点医院”页审定和调整）。")

if not can_edit:
    # Stationed officers and other read-only roles see the approved plan: their own shifts and visits.
    doc = data.approved_plan_document(data.db_url(), month)
    if doc is None:
        st.info(f"{month} 的巡防计划尚未批准。")
        st.stop()
    st.subheader("集中行动")
    st.dataframe(pd.DataFrame([
        {"医院": a["hospital"], "开始": a["start"][:16].replace("T", " "), "时长（小时）": a["hours"], "警力": a["officers"]}
        for a in doc.get("actions", []) if scope.allows_hospital(a["hospital_id"])
    ]), hide_index=True, width="stretch")
    mine = [x for x in doc.get("shifts", []) if scope.officer_id is None or x["officer_id"] == scope.officer_id]
    if scope.officer_id is not None:
        st.subheader("我的班次")
        st.dataframe(pd.DataFrame([
            {"日期": x["date"], "班次": x["shift"], "上班": x["start"][11:16], "下班": x["end"][11:16]} for x in mine
        ]), hide_index=True, width="stretch")
        visits = [v for v in doc.get("visits", []) if v.get("officer_id") == scope.officer_id]
        if visits:
            st.subheader("我的巡查点位")
            st.dataframe(pd.DataFrame([
                {"日期": v.get("date"), "巡逻点": v.get("point_id"), "到达": str(v.get("start", ""))[11:16],
                 "离开": str(v.get("end", ""))[11:16]} for v in visits
            ]), hide_index=True, width="stretch")
    st.stop()

plan = st.session_state.get("plan")
if plan is not None and (plan.month != month):
    plan = None
if can_edit and st.button("生成计划", type="primary", key="plan_go"):
    with st.spinner("正在求解集中行动和巡逻排班……"):
        try:
            plan = make_plan(data.engine(), month=month, seed=seed)
        except ValueError as exc:
            st.error(f"无法生成计划：{md(exc)}")
            for line in getattr(getattr(exc, "result", None), "diagnosis", []) or []:
                st.write(f"- {md(line)}")
            plan = None
    st.session_state["plan"] = plan
    st.session_state.pop("plan_id", None)
    st.session_state.pop("plan_exports", None)
if plan is None:
    st.info("选择月份后点击“生成计划”。")
    st.stop()

s = plan.summary()
k = st.columns(5)
k[0].metric("集中行动", s["actions"])
k[1].metric("行动警力（人次）", s["action_officers"])
k[2].metric("巡逻人员", s["patrol_officers"])
k[3].metric("巡逻到点（次）", f"{s['visits']:,}")
share = s["patrol_covered_risk"] / s["patrol_total_risk"] if s["patrol_total_risk"] else 0.0
k[4].metric("风险覆盖率", f"{share:.0%}")
if plan.demo:
    st.caption("本计划基于演示数据生成，仅用于演示。")

st.subheader("集中行动")
acts = plan.actions.copy()
table = pd.DataFrame({
    "hospital": acts["hospital_id"].map(lambda h: names.get(h, h)),
    "start": acts["start"].dt.tz_localize(None),
    "hours": acts["hours"].astype(int),
    "officers": acts["officers"].astype(int),
    "risk": acts["covered_risk"].round(2),
    "locked": acts["locked"].astype(bool),
    "hospital_id": acts["hospital_id"],
})
edited = st.data_editor(
    table, hide_index=True, width="stretch", key="plan_actions", disabled=not can_edit,
    column_config={
        "hospital_id": None,
        "hospital": st.column_config.TextColumn("医院", disabled=True),
        "start": st.column_config.DatetimeColumn("开始", format="YYYY-MM-DD HH:mm", step=1800),
        "hours": st.column_config.NumberColumn("时长（小时）", min_value=1, max_value=12),
        "officers": st.column_config.NumberColumn("警力", disabled=True),
        "risk": st.column_config.NumberColumn("覆盖风险", disabled=True),
        "locked": st.column_config.CheckboxColumn("锁定"),
    },
)
if can_edit:
    moved = (edited["start"] != table["start"]) | (edited["hours"] != table["hours"])
    locks = [
        ActionLock(hospital_id=r.hospital_id, start=pd.Timestamp(r.start).tz_localize("Asia/Shanghai"),
                   hours=int(r.hours))
        for r, m in zip(edited.itertuples(index=False), moved, strict=True) if m or r.locked
    ]
    b1, b2 = st.columns(2)
    if b1.button(f"按修改和锁定重新排班（{len(locks)} 项锁定）", key="plan_replan", disabled=not locks):
        with st.spinner("正在重新求解……"):
            try:
                plan = make_plan(
                    data.engine(), month=month, seed=seed, hospital_ids=plan.listed, locks=locks, previous=plan,
                    points=plan.points, weekday_risk=plan.params.get("weekday_risk"),
                )
            except ValueError as exc:
                st.error(f"无法按修改重新排班：{md(exc)}")
            else:
                st.session_state["plan"] = plan
                st.session_state.pop("plan_id", None)
                st.session_state.pop("plan_exports", None)
                st.rerun()
    if st.session_state.get("plan_id"):
        b2.success(f"已批准并存档（计划编号 {st.session_state['plan_id']}）")
    elif b2.button("批准计划", type="primary", key="plan_approve"):
        pid = save_plan(data.engine(), plan, username=scope.username)
        audit.record("plan_approve", username=scope.username, detail=f"{month} plan {pid}", engine=data.engine())
        st.session_state["plan_id"] = pid
        st.rerun()

st.subheader("每日排班")
visits = plan.visits
tab_h, tab_o = st.tabs(["按医院", "按民警"])
with tab_h:
    opts = sorted(set(visits["hospital_id"]), key=lambda h: names.get(h, h))
    if opts:
        hid = st.selectbox("医院", opts, format_func=lambda h: names.get(h, h), key="plan_sched_h")
        days = sorted(set(visits["date"]))
        day = st.selectbox("日期", days, key="plan_sched_d")
        v = visits[(visits["hospital_id"] == hid) & (visits["date"] == day)]
        st.dataframe(pd.DataFrame({
            "巡逻点": v["point_id"], "民警": v["officer_id"], "到达": v["start"].dt.strftime("%H:%M"),
            "离开": v["end"].dt.strftime("%H:%M"),
        }), hide_index=True, width="stretch")
with tab_o:
    officers = sorted(set(visits["officer_id"]))
    if scope.officer_id:
        officers = [o for o in officers if o == scope.officer_id]
    if officers:
        oid = st.selectbox("民警", officers, key="plan_sched_o")
        v = visits[visits["officer_id"] == oid]
        st.dataframe(pd.DataFrame({
            "日期": v["date"], "医院": v["hospital_id"].map(lambda h: names.get(h, h)), "巡逻点": v["point_id"],
            "到达": v["start"].dt.strftime("%H:%M"), "离开": v["end"].dt.strftime("%H:%M"),
        }), hide_index=True, width="stretch", height=320)

st.subheader("下载")
st.caption("导出文件按当前账号权限过滤和脱敏，每次生成都记入审计日志。")
cols = st.columns(len(EXPORTS))
exports = st.session_state.setdefault("plan_exports", {})
for col, (fmt, label, mime) in zip(cols, EXPORTS, strict=True):
    fn = EXPORTERS[fmt]
    cache_key = (id(plan), fmt)
    if cache_key not in exports:
        # Exports are built on request: a PDF with maps takes seconds and each build is audited.
        if col.button(f"生成 {label}", key=f"plan_mk_{fmt}"):
            try:
                with st.spinner(f"正在生成 {label}……"):
                    exports[cache_key] = fn(plan, scope=scope)
            except (ValueError, PermissionError) as exc:
                col.error(f"{label} 生成失败：{md(exc)}")
                continue
            st.rerun()
        continue
    col.download_button(
        f"下载 {label}", exports[cache_key], file_name=f"巡防计划_{month}.{fmt}", mime=mime, key=f"plan_dl_{fmt}",
    )
