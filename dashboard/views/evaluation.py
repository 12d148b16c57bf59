"""成效评估: before/after per action with control and buffer areas (WDD, WDQ), trends, statistics table."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui
from planning.outcomes import LABELS, evaluate_actions, monthly_statistics

EVAL_LABELS = {
    "医院": "医院", "date": "行动日期", "t_before": "行动前（本院）", "t_after": "行动后（本院）",
    "d_before": "行动前（缓冲区）", "d_after": "行动后（缓冲区）", "c_before": "行动前（对照均值）",
    "c_after": "行动后（对照均值）", "wdd": "WDD", "wdd_z": "z", "wdd_p": "p", "wdq": "WDQ", "verdict": "结论",
}

scope, df = ui.page_start("成效评估")
hospitals = data.hospitals(scope)
names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
months = ui.month_options(df, ahead=0)
month = st.selectbox("行动月份", months, index=0, key="ev_month")
window = st.slider("前后对比窗口（天）", 7, 56, 28, step=7, key="ev_window")

st.subheader("行动前后对比（加权位移差 WDD / 加权位移商 WDQ）")
st.caption(
    "本院：医院周边半径内警情；缓冲区：半径外至两倍半径的环带（看转移或扩散）；对照：当月无行动医院的平均。"
    "WDD<0 表示扣除对照趋势后警情下降；WDQ>0 表示效益向周边扩散，<0 表示警情转移到周边。"
)
try:
    res = evaluate_actions(data.engine(), month=month, window_days=window)
except ValueError as exc:
    st.info(str(exc))
else:
    table = res.table
    if scope.hospital_ids is not None:
        table = table[table["hospital_id"].isin(scope.hospital_ids)]
    table = table.assign(医院=table["hospital_id"].map(lambda h: names.get(h, h)))
    st.dataframe(table[list(EVAL_LABELS)].rename(columns=EVAL_LABELS), hide_index=True, width="stretch")
    if not table.empty:
        chart = alt.Chart(table).mark_bar().encode(
            x=alt.X("wdd:Q", title="WDD（负值为下降）"), y=alt.Y("医院:N", sort="x", title=None),
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
sub = df if not chosen else df[df["hospital_id"].isin(chosen)]
monthly = (
    sub.assign(月份=sub["date"].dt.to_period("M").dt.to_timestamp())
    .groupby(["月份", "hospital_id"], observed=True).size().unstack("hospital_id", fill_value=0)
)
monthly.columns = [names.get(c, c) for c in monthly.columns]
if chosen:
    st.line_chart(monthly, height=300)
else:
    st.line_chart(monthly.sum(axis=1).rename("全部医院"), height=300)

st.subheader("工作量化统计表")
stats = monthly_statistics(data.engine(), month=month)
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
