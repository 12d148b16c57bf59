"""会商大屏: the coordination-meeting screen — dark, large type, no sidebar, 16:9."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard import data, maps, ui
from planning.outcomes import evaluate_actions

# Fixed style sheet (no user data): dark high-contrast theme, large type, sidebar and toolbar hidden.
st.html(
    """<style>
    [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
    [data-testid="stToolbar"] { display: none !important; }
    .stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] { background: #0b1220 !important; }
    .block-container, [data-testid="stMainBlockContainer"] { padding: 0.8rem 1.6rem 0.4rem 1.6rem !important;
        max-width: 100% !important; }
    .stApp h1, .stApp h2, .stApp h3, .stApp [data-testid="stMarkdownContainer"] p,
    .stApp label p, .stApp [data-testid="stPageLink"] span { color: #f2f5f9 !important; }
    .stApp h1 { font-size: 2.4rem !important; padding: 0 !important; }
    .stApp h3 { font-size: 1.6rem !important; padding: 0.1rem 0 !important; }
    [data-testid="stMetricLabel"] p { font-size: 1.4rem !important; color: #aebfd3 !important; }
    [data-testid="stMetricValue"] div { font-size: 3.4rem !important; font-weight: 700; color: #ffffff !important; }
    [data-testid="stMetricDelta"] div { font-size: 1.3rem !important; }
    [data-testid="stMetric"] { background: #15213a; border-radius: 10px; padding: 0.4rem 1.1rem; }
    [data-testid="stAlertContainer"] { background: #1d2a44 !important; }
    [data-testid="stAlertContainer"]:has([data-testid="stAlertContentError"]) { background: #c2410c !important; }
    [data-testid="stAlertContainer"] p { font-size: 1.3rem !important; color: #ffffff !important; font-weight: 600; }
    [data-testid="stMetricDelta"] { background: #24324d !important; }
    .stApp [data-testid="stMetricDelta"] [data-testid="stMarkdownContainer"] p { color: #ffd2c2 !important; }
    .stApp [data-testid="stCaptionContainer"] p { font-size: 1.1rem !important; color: #aebfd3 !important; }
    </style>"""
)

scope = ui.current_scope()
df = data.incidents(scope)
hospitals = data.hospitals(scope)
first, last = data.data_span(df)
start = max(first, last - pd.Timedelta(days=29).to_pytimedelta())
prev_start, prev_end = ui.previous_period(start, last)
cur = data.filter_incidents(df, start=start, end=last)
prev = data.filter_incidents(df, start=prev_start, end=prev_end)

head, link = st.columns([6, 1])
head.title("医院周边警情态势 · 会商大屏")
with link:
    st.page_link("views/overview.py", label="返回工作台")
if data.is_demo(data.db_url()):
    st.error(f"{data.DEMO_BANNER} —— 仅供演示，不代表真实情况")
st.caption(f"统计时段：近 30 天（{start:%Y年%m月%d日} 至 {last:%Y年%m月%d日}），与前 30 天对比")

k = st.columns(5)
n, p = len(cur), len(prev)
k[0].metric("警情总数", f"{n:,}", delta=f"{n - p:+,}（{(n - p) / p:+.0%}）" if p else None, delta_color="inverse")
for col, label, src in ((k[1], "110 警情", "110"), (k[2], "投诉", "complaint")):
    a, b = int((cur["source"] == src).sum()), int((prev["source"] == src).sum())
    col.metric(label, f"{a:,}", delta=f"{a - b:+,}", delta_color="inverse")
k[3].metric("涉及医院", int(cur["hospital_id"].dropna().nunique()))
touts = int(cur["category"].isin(["号贩子/倒号", "医托"]).sum())
k[4].metric("号贩子/医托", f"{touts:,}")

names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
top = cur["hospital_id"].value_counts().head(5)
left, mid, right = st.columns([5, 4, 3], gap="medium")
with left:
    st.subheader("警情分布（近 30 天）")
    m = maps.base_map(dark=True, zoom=11)
    maps.add_hospitals(m, hospitals, highlight=set(top.index), dark=True)
    maps.add_heat(m, cur)
    st_folium(m, height=640, use_container_width=True, returned_objects=[], key="screen_map")


def _dark(chart: alt.Chart) -> alt.Chart:
    return chart.configure(background="#0b1220").configure_axis(
        labelColor="#f2f5f9", titleColor="#f2f5f9", labelFontSize=16, titleFontSize=16, gridColor="#2a3a55",
    ).configure_view(stroke=None).configure_legend(labelColor="#f2f5f9", titleColor="#f2f5f9", labelFontSize=16)


def _panel_trend() -> None:
    st.subheader("每日趋势（近 90 天）")
    recent = data.filter_incidents(df, start=last - pd.Timedelta(days=89).to_pytimedelta(), end=last)
    daily = recent.groupby("date").size().rename("起数").reset_index()
    chart = alt.Chart(daily).mark_line(color="#ff6b4a", strokeWidth=3).encode(
        x=alt.X("date:T", title=None, axis=alt.Axis(format="%m-%d")), y=alt.Y("起数:Q", title=None),
    ).properties(height=230)
    st.altair_chart(_dark(chart), width="stretch")


def _panel_top() -> None:
    st.subheader("警情最多的医院")
    t = pd.DataFrame({"医院": [names.get(h, h) for h in top.index], "起数": top.to_numpy()})
    chart = alt.Chart(t).mark_bar(color="#ff6b4a").encode(
        y=alt.Y("医院:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)), x=alt.X("起数:Q", title=None),
    ).properties(height=230)
    st.altair_chart(_dark(chart), width="stretch")


def _panel_hours() -> None:
    st.subheader("时段 × 星期")
    st.altair_chart(_dark(ui.hour_weekday_chart(ui.hour_weekday_profile(cur), height=230)), width="stretch")


with mid:
    rotate = st.toggle("轮播", value=False, key="screen_rotate", help="每 15 秒切换右侧图表")
    panels = [_panel_trend, _panel_top, _panel_hours]

    @st.fragment(run_every=15 if rotate else None)
    def _rotating() -> None:
        if rotate:
            i = st.session_state.get("screen_panel", 0) + 1
            st.session_state["screen_panel"] = i
            panels[i % len(panels)]()
            panels[(i + 1) % len(panels)]()
        else:
            _panel_trend()
            _panel_top()

    _rotating()

with right:
    done_month = str(pd.Period(last, "M"))
    st.subheader(f"{done_month} 集中行动成效")
    try:
        ev_table = evaluate_actions(data.engine(), month=done_month).table
    except ValueError:
        st.info("该月没有已批准的集中行动方案。")
    else:
        st.dataframe(
            pd.DataFrame({
                "医院": [names.get(h, h) for h in ev_table["hospital_id"]],
                "前→后": [f"{a}→{b}" for a, b in zip(ev_table["t_before"], ev_table["t_after"], strict=True)],
                "结论": ev_table["verdict"],
            }),
            hide_index=True, width="stretch", height=min(360, 40 + 36 * len(ev_table)),
        )
    nxt = ui.next_month(df)
    st.subheader(f"{nxt} 巡防计划")
    acts = data.approved_actions(data.db_url(), nxt)
    listed = data.keylist_names(data.db_url(), nxt)
    if not acts.empty:
        st.dataframe(
            pd.DataFrame({
                "医院": [names.get(h, h) for h in acts["hospital_id"]],
                "集中行动": pd.to_datetime(acts["start"]).dt.strftime("%m-%d %H:%M"),
                "警力": acts["officers"],
            }),
            hide_index=True, width="stretch", height=min(420, 40 + 36 * len(acts)),
        )
    elif listed:
        st.markdown("重点医院：" + "、".join(names.get(h, h) for h in listed))
        st.caption("计划尚未批准。")
    else:
        st.info("下月计划尚未生成。")
