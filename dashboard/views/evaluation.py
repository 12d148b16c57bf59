"""成效评估: before/after per action (only approved plans, only once the after-window has passed), action
results entry (commanders), patrol dosage, the 工作量化统计表 (XLSX/PDF) and the 月度通报 (PDF)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui
from planning import reports
from planning.outcomes import COUNTS, LABELS, action_results, record_action_result

EVAL_LABELS = {
    "医院": "医院", "date": "行动日期", "t_before": "行动前（本院）", "t_after": "行动后（本院）",
    "d_before": "行动前（缓冲区）", "d_after": "行动后（缓冲区）", "c_before": "行动前（对照均值）",
    "c_after": "行动后（对照均值）", "wdd": "加权位移差", "wdd_z": "z 值", "wdd_p": "p 值", "wdq": "加权位移商", "verdict": "结论",
}

scope, df = ui.page_start("成效评估")
hospitals = data.hospitals(scope)
names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
# One month ahead of the data: the month being carried out, whose actions get their results recorded.
months = ui.month_options(df, ahead=1)
month = st.selectbox("行动月份", months, placeholder="请选择", index=min(1, len(months) - 1), key="ev_month")
window = st.slider("前后对比窗口（天）", 7, 56, 28, step=7, key="ev_window")

st.subheader("行动前后对比（加权位移差与加权位移商）")
st.caption(
    "本院：医院周边半径内警情；缓冲区：半径外至两倍半径的环带（看转移或扩散）；对照：当月无行动医院的平均。"
    "加权位移差小于 0 表示扣除对照医院的趋势后警情下降；加权位移商大于 0 表示效益向周边扩散，小于 0 表示警情转移到周边。"
)
try:
    res = data.action_evaluation(month, window)
except ValueError as exc:
    st.info(str(exc))
else:
    table = res.table
    if scope.hospital_ids is not None:
        table = table[table["hospital_id"].isin(scope.hospital_ids)]
    table = table.assign(医院=table["hospital_id"].map(lambda h: names.get(h, h)))
    shown = table[list(EVAL_LABELS)].astype(object).where(table[list(EVAL_LABELS)].notna(), "—")
    st.dataframe(shown.astype(str).rename(columns=EVAL_LABELS), hide_index=True, width="stretch")
    table = table[table["complete"]]
    if not table.empty:
        chart = alt.Chart(table).mark_bar().encode(
            x=alt.X("wdd:Q", title="加权位移差（负值为下降）"), y=alt.Y("医院:N", sort="x", title=None),
            color=alt.condition("datum.wdd < 0", alt.value("#2e7d32"), alt.value("#c62828")),
            tooltip=["医院", "wdd", "wdd_z", "wdd_p", "verdict"],
        ).properties(height=max(120, 28 * len(table)))
        st.altair_chart(chart, width="stretch")
    st.caption(f"参数：窗口 {res.params.get('window_days')} 天，半径 {res.params.get('radius_m'):.0f} 米，"
               f"缓冲区外径 {res.params.get('buffer_m'):.0f} 米，对照医院 {res.params.get('n_controls')} 家。")

st.subheader("月度趋势")
default = [h for h in data.keylist_names(data.db_url(), month) if h in names][:5]
chosen = st.multiselect("医院", list(names), format_func=names.get, key="ev_hospitals", default=default,
                        placeholder="全部医院")
table = data.monthly_by_hospital(*data.cache_args(scope))
monthly = table[[h for h in (chosen or list(names)) if h in table.columns]]
monthly.columns = [names.get(c, c) for c in monthly.columns]
clk = ui.clock(df)
# Chinese month axis; the running month drawn apart and labelled, never as a fall to zero.
series = monthly if chosen else monthly.sum(axis=1).rename("全部医院")
st.altair_chart(ui.trend_chart(series, "M", clk, height=300), width="stretch")
st.caption(ui.window_caption(clk.first, clk.last, clk))

st.subheader("工作量化统计表")
stats = data.monthly_statistics(month)
if scope.hospital_ids is not None:
    stats = stats[stats["hospital_id"].isin(scope.hospital_ids)]
if stats.empty:
    st.info(f"{month} 尚无上报的行动和巡逻成果。")
else:
    shown = stats.drop(columns=["hospital_id"]).rename(columns={"name": "医院", **LABELS})
    st.dataframe(shown, hide_index=True, width="stretch")
    from core.safeio import frame_to_csv_bytes
    from core.trust.audit import record

    csv_bytes = frame_to_csv_bytes(pd.DataFrame(shown))
    st.download_button(
        "下载统计表（CSV）", csv_bytes, file_name=f"工作量化统计_{month}.csv", mime="text/csv", key="ev_dl",
        # Recorded when downloaded, not on every render.
        on_click=lambda: record("export", username=scope.username, data=csv_bytes, engine=data.engine(),
                                detail=f"工作量化统计表 {month}（CSV）"),
    )


first, last = reports.period_bounds(month)[:2]
engine = data.engine()
if scope.role == "commander":
    st.subheader("登记集中行动成果")
    acts = data.approved_actions(data.db_url(), month)
    units = data.store.load_units(engine)
    unit_names = dict(zip(units["unit_id"], units["name"], strict=True))
    options = [(r.hospital_id, pd.Timestamp(r.start).date()) for r in acts.itertuples(index=False)]
    with st.form("ev_result"):
        if options:
            pick = st.selectbox("行动", options, placeholder="请选择", format_func=lambda o: f"{names.get(o[0], o[0])} {o[1]}", key="ev_res_act")
        else:
            c1, c2 = st.columns(2)
            pick = (c1.selectbox("医院", list(names), placeholder="请选择", format_func=names.get, key="ev_res_h"),
                    c2.date_input("行动日期", value=first, key="ev_res_d"))
        chosen_units = st.multiselect("参战单位", list(unit_names), format_func=unit_names.get, key="ev_res_units",
                                      placeholder="请选择参战单位")
        per_unit = st.number_input("每个单位警力（人）", min_value=0, max_value=200, value=4, key="ev_res_per")
        total = st.number_input("总警力（人，0 = 各单位之和）", min_value=0, max_value=2000, value=0, key="ev_res_total")
        cols = st.columns(len(COUNTS))
        counts = {k: int(c.number_input(LABELS[k], min_value=0, max_value=10_000, value=0, key=f"ev_res_{k}"))
                  for c, k in zip(cols, COUNTS, strict=True)}
        note = st.text_input("备注", key="ev_res_note")
        if st.form_submit_button("登记成果", type="primary"):
            try:
                record_action_result(engine, scope=scope, hospital_id=pick[0], date=pick[1],
                                     units={u: int(per_unit) for u in chosen_units},
                                     officers=int(total) or None, note=note, **counts)
            except (ValueError, PermissionError) as exc:
                st.error(str(exc))
            else:
                st.success(f"已登记 {names.get(pick[0], pick[0])} {pick[1]} 的行动成果。")
    res = action_results(engine, start=first, end=last, hospital_ids=scope.hospital_ids)
    if len(res):
        st.dataframe(pd.DataFrame({
            "医院": res["hospital_id"].map(lambda h: names.get(h, h)), "日期": res["date"].astype(str),
            "警力": res["officers"], "参战单位": res["units"].map(lambda us: "、".join(u["name"] for u in us)),
            **{LABELS[k]: res[k] for k in COUNTS}, "登记人": res["username"],
        }), hide_index=True, width="stretch")

st.subheader("日常巡防完成情况")
dose = data.dosage(scope, month)
t = dose.totals
m = st.columns(4)
m[0].metric("到期计划巡查", f"{t['planned']:,}")
m[1].metric("已完成", f"{t['done']:,}")
m[2].metric("完成率", reports._pct(t["compliance"]))
m[3].metric("高峰复巡达标", f"{t['peak_kept']}/{t['peak_windows']}")
st.caption(f"计划来源：{dose.source}；完成率 = 已签到完成 ÷ 计划开始时间已过的巡查。")
if len(dose.by_hospital):
    st.dataframe(pd.DataFrame({
        "医院": dose.by_hospital["name"], "计划": dose.by_hospital["planned"], "完成": dose.by_hospital["done"],
        "未完成": dose.by_hospital["missed"], "未上报": dose.by_hospital["unreported"],
        "完成率": dose.by_hospital["compliance"].map(reports._pct),
    }), hide_index=True, width="stretch", height=240)

st.subheader("报表下载")
from core.trust.audit import record as _record  # noqa: E402

quarter = f"{first.year}Q{(first.month - 1) // 3 + 1}"
period = st.radio("统计周期", [month, quarter], horizontal=True, key="ev_period",
                  format_func=lambda p: reports.period_bounds(p)[2])
d1, d2, d3 = st.columns(3)
if d1.button("生成统计表（XLSX）", key="ev_mk_xlsx"):
    st.session_state["ev_xlsx"] = (period, reports.workload_xlsx(engine, period=period))
if d2.button("生成统计表（PDF）", key="ev_mk_wpdf"):
    st.session_state["ev_wpdf"] = (period, reports.workload_pdf(engine, period=period))
bulletin = data.monthly_bulletin(month)
with st.expander(f"月度通报预览（{month}）", expanded=False):
    for head, paras in reports.bulletin_text(bulletin):
        st.markdown(f"**{head}**")
        for para in paras:
            st.markdown(para)
if d3.button("生成月度通报（PDF）", key="ev_mk_bull"):
    st.session_state["ev_bull"] = (month, reports.bulletin_pdf(bulletin))
for key, col, label, fname, mime in (
    ("ev_xlsx", d1, "下载统计表（XLSX）", "工作量化统计表_{p}.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ev_wpdf", d2, "下载统计表（PDF）", "工作量化统计表_{p}.pdf", "application/pdf"),
    ("ev_bull", d3, "下载月度通报（PDF）", "月度通报_{p}.pdf", "application/pdf"),
):
    if key in st.session_state:
        p, blob = st.session_state[key]
        name = fname.format(p=p)
        col.download_button(label, blob, file_name=name, mime=mime, key=f"{key}_dl",
                            on_click=lambda blob=blob, n=name: _record(
                                "export", username=scope.username, data=blob, engine=engine, detail=n))
