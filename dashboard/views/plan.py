"""巡防计划: generate (stored as a draft), edit through re-planning (stored as plan edits with their cost),
approve (commander, audited); schedules by name; exports; an officer's own calendar and duty sheet."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, ui
from dashboard.safe import md
from planning import lifecycle
from planning.export import geojson as export_geojson
from planning.export import ics as export_ics
from planning.export import pdf as export_pdf
from planning.export import xlsx as export_xlsx
from planning.export.duty import export_duty_sheet
from planning.plan import make_plan, plan_from_document
from planning.replan import Edit, plan_edits, replan, save_replan

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
month = c1.selectbox("计划月份", ui.month_options(df), placeholder="请选择", index=0, key="plan_month")
seed = int(c2.number_input("随机种子", min_value=0, max_value=2**31 - 1, value=int(month.replace("-", "")),
                           key="plan_seed", help="相同种子生成相同的巡逻抽样，便于复核。"))
c3.caption("集中行动医院取本月重点医院清单（在“重点医院”页审定和调整）。")

if not can_edit:
    # Stationed officers and other read-only roles see the approved plan: their own shifts and visits.
    pid = lifecycle.approved_plan_id(data.engine(), month)
    if pid is None:
        st.info(f"{month} 的巡防计划尚未批准。")
        st.stop()
    doc = lifecycle.load_document(data.engine(), pid)
    st.caption(f"方案{pid}：{lifecycle.plan_info(data.engine(), pid).state_label}")
    st.subheader("集中行动")
    st.dataframe(pd.DataFrame([
        {"医院": a["hospital"], "日期": a["date"], "时段": f"{a['start'][11:16]}-{a['end'][11:16]}",
         "警力（人）": a["officers"]}
        for a in doc.get("actions", []) if scope.allows_hospital(a["hospital_id"])
    ]), hide_index=True, width="stretch")
    if scope.officer_id is not None:
        mine = [x for x in doc.get("shifts", []) if x["officer_id"] == scope.officer_id]
        st.subheader("我的班次")
        st.dataframe(pd.DataFrame([
            {"日期": x["date"], "班次": x["shift"], "上班": x["start"][11:16], "下班": x["end"][11:16],
             "用餐": f"{x['meal_start'][11:16]}-{x['meal_end'][11:16]}"} for x in mine
        ]), hide_index=True, width="stretch")
        visits = [v for v in doc.get("visits", []) if v.get("officer_id") == scope.officer_id]
        if visits:
            st.subheader("我的巡查点位")
            st.dataframe(pd.DataFrame([
                {"日期": v["start"][:10], "巡逻点": v.get("point", v["point_id"]), "到达": v["start"][11:16],
                 "离开": v["end"][11:16]} for v in visits
            ]), hide_index=True, width="stretch", height=320)
        st.subheader("下载我的日程")
        own = plan_from_document(doc, engine=data.engine())
        c1, c2 = st.columns(2)
        c1.download_button("下载我的日历（ICS）", export_ics.export_ics(own, scope=scope),
                           file_name=f"我的巡逻日历_{month}.ics", mime="text/calendar", key="plan_my_ics")
        first, last = lifecycle.month_bounds(month)
        # Three days on one readable page: from today when the month is running, else its first days.
        d0 = min(max(first, lifecycle.today()), last)
        d1 = min(d0 + pd.Timedelta(days=2).to_pytimedelta(), last)
        hid = next(iter(scope.hospital_ids)) if scope.hospital_ids else None
        if hid:
            c2.download_button(f"下载我的值勤表（{d0:%m-%d}至{d1:%m-%d}，PDF）",
                               export_duty_sheet(own, scope=scope, hospital_id=hid, start=d0, end=d1),
                               file_name=f"我的值勤表_{d0}_{d1}.pdf", mime="application/pdf", key="plan_my_duty")
    st.stop()

engine = data.engine()
plans = lifecycle.list_plans(engine, month=month)
if plans:
    with st.expander(f"{month} 已存档方案（{len(plans)}）", expanded=False):
        st.dataframe(pd.DataFrame([
            {"编号": p.plan_id, "状态": p.state_label, "生成": f"{p.created_at:%m-%d %H:%M} {p.username}",
             "来源": f"由方案{p.parent_id}调整" if p.parent_id else "新生成",
             "批准": f"{p.approved_by} {p.approved_at:%m-%d %H:%M}" if p.approved_at else "—"} for p in plans
        ]), hide_index=True, width="stretch")
plan = st.session_state.get("plan")
if plan is not None and (plan.month != month):
    plan = None
if (plan is None and plans and plans[0].status in ("draft", "approved")
        and st.button(f"打开方案{plans[0].plan_id}（{plans[0].state_label}）", key="plan_open")):
    if plans[0].status == "draft":
        plan = lifecycle.rebuild_plan(engine, plans[0].plan_id)  # editable: with per-slot coverage
    else:
        plan = plan_from_document(lifecycle.load_document(engine, plans[0].plan_id), engine=engine)
    st.session_state["plan"] = plan
    st.session_state["plan_id"] = plans[0].plan_id
    st.session_state.pop("plan_exports", None)
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
    st.session_state.pop("plan_exports", None)
    if plan is not None:
        st.session_state["plan_id"] = lifecycle.save_draft(engine, plan, username=scope.username)
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
k[4].metric("预计警情覆盖", f"{share:.0%}")
pid = st.session_state.get("plan_id")
info = lifecycle.plan_info(engine, pid) if pid else None
if info is not None:
    st.caption(f"方案{info.plan_id}：{info.state_label}" + (f"，由方案{info.parent_id}调整而来" if info.parent_id else ""))
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
editable = info is not None and info.status == "draft"
if can_edit and editable:
    moved = (edited["start"] != table["start"]) | (edited["hours"] != table["hours"])
    edits = []
    for r, m, was in zip(edited.itertuples(index=False), moved, table["locked"], strict=True):
        if m:
            edits.append(Edit("move", hospital_id=r.hospital_id, start=pd.Timestamp(r.start).tz_localize("Asia/Shanghai"),
                              hours=int(r.hours)))
        elif r.locked and not was:
            edits.append(Edit("lock", hospital_id=r.hospital_id))
    with st.expander("其他调整：民警请假、停用或增加巡逻点", expanded=False):
        off_names = dict(zip(plan.officers["officer_id"], plan.officers["name"], strict=True))
        e1, e2 = st.columns(2)
        absent = e1.multiselect("请假民警", list(off_names), format_func=lambda o: off_names.get(o, o), key="plan_absent",
                                placeholder="请选择民警")
        days = e2.date_input("请假日期", value=(), key="plan_absent_days", format="YYYY-MM-DD")
        if absent and isinstance(days, tuple | list) and days:
            d0, d1 = days[0], days[-1]
            span = tuple(pd.date_range(d0, d1, freq="D").date)
            edits += [Edit("absent", officer_id=o, dates=span) for o in absent]
        pnames = {r.point_id: f"{names.get(r.hospital_id, r.hospital_id)} {r.name}" for r in plan.points.itertuples()}
        for pid_ in st.multiselect("停用巡逻点", list(pnames), format_func=pnames.get, key="plan_suppress",
                                   placeholder="请选择要停用的巡逻点"):
            edits.append(Edit("point_suppress", point_id=pid_))
        a1, a2, a3, a4 = st.columns([2, 2, 1, 1])
        add_h = a1.selectbox("增加巡逻点：医院", ["", *sorted(set(plan.points["hospital_id"]))], placeholder="请选择",
                             format_func=lambda h: names.get(h, h) if h else "（不增加）", key="plan_add_h")
        add_name = a2.text_input("点位名称", key="plan_add_name", placeholder="如：住院部北门")
        add_lon = a3.number_input("经度", value=0.0, format="%.6f", key="plan_add_lon")
        add_lat = a4.number_input("纬度", value=0.0, format="%.6f", key="plan_add_lat")
        if add_h and add_name.strip() and add_lon and add_lat:
            edits.append(Edit("point_add", hospital_id=add_h, name=add_name.strip(), lon=add_lon, lat=add_lat))
    why = st.text_input("调整原因（必填，记入方案调整记录）", key="plan_why")
    b1, b2 = st.columns(2)
    if b1.button(f"按调整重新排班（{len(edits)} 项）", key="plan_replan", disabled=not edits or not why.strip()):
        with st.spinner("正在重新求解……"):
            try:
                res = replan(plan, [Edit(**{**e.__dict__, "note": why.strip()}) for e in edits], engine=engine)
            except ValueError as exc:
                st.error(f"无法按修改重新排班：{md(exc)}")
            else:
                new_id = save_replan(engine, info.plan_id, res, username=scope.username, why=why.strip())
                st.session_state["plan"] = res.plan
                st.session_state["plan_id"] = new_id
                st.session_state["plan_replan_msg"] = (res.message, res.warnings)
                st.session_state.pop("plan_exports", None)
                st.rerun()
    if b2.button("批准方案", type="primary", key="plan_approve"):
        exports = st.session_state.get("plan_exports", {})
        files = {f"plan.{fmt}": b for (key, fmt), b in exports.items() if key == id(plan)}
        try:
            lifecycle.approve_plan(engine, info.plan_id, scope=scope, files=files)
        except (PermissionError, ValueError) as exc:
            st.error(str(exc))
        else:
            st.rerun()
elif info is not None and info.status != "draft":
    st.success(f"已批准并存档（方案编号 {info.plan_id}，{info.approved_by} {info.approved_at:%Y-%m-%d %H:%M}）"
               if info.approved_at else f"方案{info.plan_id}：{info.state_label}")
msg = st.session_state.get("plan_replan_msg")
if msg:
    st.info(msg[0])
    for w in msg[1]:
        st.warning(w)
if info is not None:
    hist = pd.concat([plan_edits(engine, p.plan_id) for p in plans if p.plan_id <= info.plan_id] or [pd.DataFrame()])
    if len(hist):
        with st.expander(f"调整记录（{len(hist)} 项）"):
            st.dataframe(pd.DataFrame({
                "方案": hist["plan_id"], "调整": hist["label"], "原因": hist["note"], "调整人": hist["username"],
                "时间": pd.to_datetime(hist["at"]).dt.strftime("%m-%d %H:%M"), "新方案": hist["new_plan_id"],
                "巡逻覆盖警情变化": (-hist["patrol_risk_cost"].astype(float)).round(2),
            }), hide_index=True, width="stretch")

st.subheader("每日排班")
visits = plan.visits
tab_h, tab_o = st.tabs(["按医院", "按民警"])
with tab_h:
    opts = sorted(set(visits["hospital_id"]), key=lambda h: names.get(h, h))
    if opts:
        hid = st.selectbox("医院", opts, placeholder="请选择", format_func=lambda h: names.get(h, h), key="plan_sched_h")
        days = sorted(set(visits["date"]))
        day = st.selectbox("日期", days, placeholder="请选择", key="plan_sched_d")
        v = visits[(visits["hospital_id"] == hid) & (visits["date"] == day)]
        pn = dict(zip(plan.points["point_id"], plan.points["name"], strict=True))
        on = dict(zip(plan.officers["officer_id"], plan.officers["name"], strict=True))
        st.dataframe(pd.DataFrame({
            "巡逻点": v["point_id"].map(pn), "民警": v["officer_id"].map(on), "到达": v["start"].dt.strftime("%H:%M"),
            "离开": v["end"].dt.strftime("%H:%M"),
        }), hide_index=True, width="stretch")
        d0, d1 = st.columns(2)
        rng = d0.date_input("值勤表日期范围", value=(day, day), key="plan_duty_range", format="YYYY-MM-DD")
        if isinstance(rng, tuple | list) and len(rng) == 2:
            d1.download_button("下载值勤表（PDF）", export_duty_sheet(plan, scope=scope, hospital_id=hid, start=rng[0],
                                                                 end=rng[1]),
                               file_name=f"值勤表_{names.get(hid, hid)}_{rng[0]}_{rng[1]}.pdf", mime="application/pdf",
                               key="plan_dl_duty")
with tab_o:
    officers = sorted(set(visits["officer_id"]))
    if scope.officer_id:
        officers = [o for o in officers if o == scope.officer_id]
    if officers:
        on = dict(zip(plan.officers["officer_id"], plan.officers["name"], strict=True))
        oid = st.selectbox("民警", officers, placeholder="请选择", format_func=lambda o: on.get(o, o), key="plan_sched_o")
        v = visits[visits["officer_id"] == oid]
        pn = dict(zip(plan.points["point_id"], plan.points["name"], strict=True))
        st.dataframe(pd.DataFrame({
            "日期": v["date"].astype(str), "医院": v["hospital_id"].map(lambda h: names.get(h, h)),
            "巡逻点": v["point_id"].map(pn),
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
                    exports[cache_key] = (fn(plan, scope=scope, approval=info) if fmt == "pdf"
                                          else fn(plan, scope=scope))
            except (ValueError, PermissionError) as exc:
                col.error(f"{label} 生成失败：{md(exc)}")
                continue
            st.rerun()
        continue
    col.download_button(
        f"下载 {label}", exports[cache_key], file_name=f"巡防计划_{month}.{fmt}", mime=mime, key=f"plan_dl_{fmt}",
    )
