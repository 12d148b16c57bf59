"""热点研判: clusters, hour × weekday heat map, peak windows, emerging hot spots, near repeats, backtest."""

from __future__ import annotations

import altair as alt
import streamlit as st
from streamlit_folium import st_folium

from dashboard import data, maps, ui
from dashboard.safe import md
from geo.temporal import peak_windows

#: Knox tables compare all pairs: above this many incidents the page asks for narrower filters.
KNOX_MAX_EVENTS = 5000
EMERGING_COLORS = {
    "new": "#b2182b", "intensifying": "#b2182b", "consecutive": "#ef8a62", "persistent": "#ef8a62",
    "diminishing": "#4393c3", "historical": "#92c5de", "sporadic": "#8073ac", "oscillating": "#8073ac",
}

scope, df = ui.page_start("热点研判")
hospitals = data.hospitals(scope)
flt = ui.incident_filters(df, hospitals, key="ana")
events = data.filter_incidents(df, **flt)
st.caption(f"分析范围：{flt['start']:%Y-%m-%d} 至 {flt['end']:%Y-%m-%d}，共 {len(events):,} 起警情。")
names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))

st.subheader("聚集区（密度聚类）")
cl = data.clusters(*data.cache_args(scope), data.hashable_filters(flt))
if cl.empty:
    st.info("所选条件下没有形成聚集区。")
else:
    table = cl.assign(
        医院=[names.get(h, "—") if h else "—" for h in cl["hospital_id"]],
        主要类别=["、".join(f"{k} {v}" for k, v in sorted(mix.items(), key=lambda kv: -kv[1])[:3])
              for mix in cl["category_mix"]],
        高发时段=["、".join(w) for w in cl["peak_windows"]],
        面积平方米=cl["area_m2"].round(0).astype(int) if "area_m2" in cl else 0,
    )[["cluster_id", "医院", "count", "主要类别", "高发时段", "面积平方米"]]
    st.dataframe(
        table.rename(columns={"cluster_id": "聚集区", "count": "警情数"}), hide_index=True, width="stretch",
    )

left, right = st.columns([3, 2])
with left:
    st.subheader("时段 × 星期热力图")
    st.altair_chart(ui.hour_weekday_chart(ui.hour_weekday_profile(events)), width="stretch")
with right:
    st.subheader("高发时段")
    if events.empty:
        st.write("无警情")
    else:
        windows = peak_windows(events)
        st.markdown("\n".join(f"- {w}" for w in windows) or "无明显高峰")
        st.caption("覆盖一半警情的最短时段组合（不分星期）。")

st.subheader("新兴热点")
st.caption("按月计算 Gi* 热点并检验趋势（Mann–Kendall），分类同 ArcGIS 新兴热点分析；使用所选筛选条件下的全部月份。")
flt_all = {**flt, "start": None, "end": None}
# City-wide at 100 m the monthly grids hold millions of cells (~10 s); 250 m keeps it to ~2 s.
cell = 100.0 if flt["hospital_ids"] else 250.0
run = st.button(f"运行新兴热点分析（{cell:.0f} 米网格）", key="eh_run") or st.session_state.get("eh_done")
cells = None
if run:
    st.session_state["eh_done"] = True
    cells = data.emerging(*data.cache_args(scope), data.hashable_filters(flt_all), cell)
if not run:
    st.caption("按需计算：点击按钮开始（全市范围约需数秒）。")
elif cells is None or cells.empty:
    st.info("没有呈现新兴、持续或减弱模式的网格。")
else:
    a, b = st.columns([3, 2])
    with a:
        m = maps.base_map(zoom=11)
        maps.add_polygons(
            m, cells, name="新兴热点", color_of=lambda p: EMERGING_COLORS.get(p.get("category"), "#999999"),
            tooltip_fields=["category_zh", "count", "n_hot"], tooltip_aliases=["类型", "警情数", "热点月数"],
        )
        st_folium(m, height=420, use_container_width=True, returned_objects=[], key="emerging_map")
    with b:
        summary = cells.groupby("category_zh").agg(网格数=("count", "size"), 警情数=("count", "sum"))
        st.dataframe(summary.sort_values("警情数", ascending=False), width="stretch")
        st.caption("颜色：新增/加强为深红，连续/持续为橙，减弱/历史为蓝，零散/振荡为紫。")

st.subheader("近重复（Knox 检验）")
st.caption("同一地点附近、短时间内再次发生警情的倾向：观察值/期望值大于 1 且 p 值小的格子说明存在近重复。")
kt = data.knox(*data.cache_args(scope), data.hashable_filters(flt), KNOX_MAX_EVENTS)
if kt is None:
    st.info(f"近重复分析需要 20 至 {KNOX_MAX_EVENTS:,} 起警情，请调整筛选条件。")
else:
    pivot = kt.pivot(index="distance_band", columns="time_band", values="ratio").round(2)
    pivot = pivot.loc[kt.drop_duplicates("distance_band").sort_values("d_lo")["distance_band"],
                      kt.drop_duplicates("time_band").sort_values("t_lo")["time_band"]]
    pivot.index.name = "距离"
    st.dataframe(pivot, width="stretch")
    sig = kt[(kt["p"] < 0.05) & (kt["ratio"] > 1)]
    if not sig.empty:
        st.caption("显著（p<0.05）的近重复格：" + "；".join(
            f"{r.distance_band}、{r.time_band}（{r.ratio:.2f} 倍）" for r in sig.itertuples()
        ))

st.subheader("预测方法回测")
st.caption("滚动起点回测：各方法以起点前数据预测下一时段，按覆盖面积比例统计命中率、PAI 和 PEI*。")
c1, c2 = st.columns(2)
horizon = c1.selectbox("预测周期", ["month", "week"], format_func={"month": "月", "week": "周"}.get, key="bt_h")
periods = c2.slider("回测期数", 2, 12, 6, key="bt_n")
if st.button("运行回测", key="bt_run") or st.session_state.get("bt_done"):
    st.session_state["bt_done"] = True
    try:
        summary = data.backtest_summary(*data.cache_args(scope), horizon, periods)
    except ValueError as exc:
        st.error(f"回测无法进行：{md(exc)}")
    else:
        labels = {"naive_last": "上期计数", "kde_retrospective": "回顾性核密度", "prospective": "前瞻性热点",
                  "sepp": "自激点过程", "ensemble": "集成"}
        s = summary.assign(方法=summary["method"].map(lambda m: labels.get(m, m)))
        chart = alt.Chart(s).mark_line(point=True).encode(
            x=alt.X("coverage:O", title="覆盖面积（%）"), y=alt.Y("pai:Q", title="PAI"),
            color=alt.Color("方法:N"), tooltip=["方法", "coverage", "hit_rate", "pai", "pei"],
        ).properties(height=300)
        st.altair_chart(chart, width="stretch")
        st.dataframe(
            s[["方法", "coverage", "hit_rate", "pai", "pei"]].rename(
                columns={"coverage": "覆盖面积%", "hit_rate": "命中率", "pai": "PAI", "pei": "PEI*"}
            ).round(3),
            hide_index=True, width="stretch",
        )
