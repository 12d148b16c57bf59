"""总览: the period's calls and complaints against the previous period, trends, top hospitals."""

from __future__ import annotations

import streamlit as st

from dashboard import data, ui
from dashboard.safe import md
from geo import periods

scope, df = ui.page_start("总览")
hospitals = data.hospitals(scope)
clk = ui.clock(df)
start, end = ui.period_input(df, key="overview_period")
prev_start, prev_end = ui.previous_period(start, end)
cur = data.filter_incidents(df, start=start, end=end)
prev = data.filter_incidents(df, start=prev_start, end=prev_end)
st.caption(
    f"统计时段 {periods.fmt_date(start)}至{periods.fmt_date(end)}，对比上一时段 {periods.fmt_date(prev_start)}至"
    f"{periods.fmt_date(prev_end)}。数据截至 {periods.fmt_date(clk.last)}，完整数据截至 "
    f"{periods.fmt_date(clk.complete_through)}（当天尚未结束的数据不计入默认时段）。"
)
if end > clk.complete_through:
    st.warning(f"所选时段包含未结束的 {end.month}月{end.day}日，与上一时段的对比会偏低。")


def _count(frame, source=None) -> int:
    return int(len(frame) if source is None else (frame["source"] == source).sum())


cols = st.columns(4)
for col, label, src in zip(cols[:3], ("警情总数", "110 警情", "投诉"), (None, "110", "complaint"), strict=True):
    n, p = _count(cur, src), _count(prev, src)
    col.metric(label, f"{n:,}", delta=f"{n - p:+,}（较上一时段）", delta_color="inverse")
active = int(cur["hospital_id"].dropna().nunique())
key_count = None
month = clk.planning_month
try:
    url = data.db_url()
    kl = data.keylist_proposal(url, data.data_version(url), month)
    key_count = int(kl["listed"].sum()) if "listed" in kl else None
except ValueError as exc:  # e.g. a month without enough history: show the count of hospitals instead
    st.warning(f"重点医院清单暂不可用：{md(exc)}")
if key_count is not None:
    cols[3].metric(f"{periods.fmt_month(month)}重点医院", key_count)
else:
    cols[3].metric("有警情的医院", active)

left, right = st.columns(2)
with left:
    st.subheader("每日趋势")
    trend = ui.daily_trend(cur)
    if trend.empty:
        st.info("所选时段没有警情。")
    else:
        st.altair_chart(ui.trend_chart(trend, "D", clk, height=280), width="stretch")
        st.caption(ui.window_caption(start, end, clk))
with right:
    st.subheader("月度趋势")
    monthly = data.monthly_total(*data.cache_args(scope))
    if monthly.empty:
        st.info("没有警情。")
    else:
        st.altair_chart(ui.trend_chart(monthly, "M", clk, height=280), width="stretch")
        tail = clk.label(periods.period_of(clk.last, "M"))
        st.caption(ui.window_caption(clk.first, clk.last, clk)
                   + (f"；最后一个月为{tail}，以空心点单独标出，不与完整月份连线比较。" if tail else "。"))

st.subheader("警情最多的医院")
names = hospitals.set_index("hospital_id")["name"]
top = (
    cur["hospital_id"].value_counts().rename("本期").to_frame()
    .join(prev["hospital_id"].value_counts().rename("上期"), how="left")
    .fillna(0).astype(int)
)
top = top[top["本期"] > 0].head(10)
top["变化"] = [f"{v:+d}" for v in top["本期"] - top["上期"]]
top.insert(0, "医院", [names.get(h, h) for h in top.index])
st.dataframe(ui.tidy(top.reset_index(drop=True)), hide_index=True, width="stretch")
st.caption(f"本期 {periods.fmt_date(start)}至{periods.fmt_date(end)}；上期为之前同样天数。")

st.subheader("类别构成")
st.altair_chart(ui.bar_chart(cur["category"].value_counts()), width="stretch")
st.caption(ui.window_caption(start, end, clk))
