"""总览: the period's calls and complaints against the previous period, trend, top hospitals."""

from __future__ import annotations

import streamlit as st

from dashboard import data, ui
from dashboard.safe import md

scope, df = ui.page_start("总览")
hospitals = data.hospitals(scope)
start, end = ui.period_input(df, key="overview_period")
prev_start, prev_end = ui.previous_period(start, end)
cur = data.filter_incidents(df, start=start, end=end)
prev = data.filter_incidents(df, start=prev_start, end=prev_end)
st.caption(f"统计时段 {start:%Y-%m-%d} 至 {end:%Y-%m-%d}；对比上一时段 {prev_start:%Y-%m-%d} 至 {prev_end:%Y-%m-%d}")


def _count(frame, source=None) -> int:
    return int(len(frame) if source is None else (frame["source"] == source).sum())


cols = st.columns(4)
for col, label, src in zip(cols[:3], ("警情总数", "110 警情", "投诉"), (None, "110", "complaint"), strict=True):
    n, p = _count(cur, src), _count(prev, src)
    col.metric(label, f"{n:,}", delta=f"{n - p:+,}", delta_color="inverse")
active = int(cur["hospital_id"].dropna().nunique())
key_count = None
try:
    url = data.db_url()
    kl = data.keylist_proposal(url, data.data_version(url), end.strftime("%Y-%m"))
    key_count = int(kl["listed"].sum()) if "listed" in kl else None
except ValueError as exc:  # e.g. a month without enough history: show the count of hospitals instead
    st.warning(f"重点医院清单暂不可用：{md(exc)}")
cols[3].metric("重点医院" if key_count is not None else "有警情的医院", key_count if key_count is not None else active)

st.subheader("每日趋势")
trend = ui.daily_trend(cur)
if trend.empty:
    st.info("所选时段没有警情。")
else:
    st.line_chart(trend, height=280, x_label="日期", y_label="起数")

st.subheader("警情最多的医院")
names = hospitals.set_index("hospital_id")["name"]
top = (
    cur["hospital_id"].value_counts().rename("本期").to_frame()
    .join(prev["hospital_id"].value_counts().rename("上期"), how="left")
    .fillna(0).astype(int)
)
top = top[top["本期"] > 0].head(10)
top["变化"] = top["本期"] - top["上期"]
top.insert(0, "医院", [names.get(h, h) for h in top.index])
st.dataframe(top.reset_index(drop=True), hide_index=True, width="stretch")

st.subheader("类别构成")
mix = cur["category"].value_counts().rename("起数")
mix = mix[mix > 0]
st.bar_chart(mix, horizontal=True, height=260)
