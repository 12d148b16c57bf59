"""警情地图: filtered incidents, heat map, hospitals with their radius, Gi* cells, clusters; hospital profiles."""

from __future__ import annotations

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from core import settings
from dashboard import data, maps, ui
from dashboard.safe import md
from geo.hotspots import gi_star_grid
from geo.temporal import peak_windows

scope, df = ui.page_start("警情地图")
hospitals = data.hospitals(scope)
flt = ui.incident_filters(df, hospitals, key="map")
radius = st.sidebar.slider(
    "医院周边半径（米）", 100, int(settings.HOSPITAL_RADIUS_M), int(settings.HOSPITAL_RADIUS_M), step=50, key="map_radius"
)
events = data.filter_incidents(df, **flt, max_distance_m=radius if radius < settings.HOSPITAL_RADIUS_M else None)

st.sidebar.markdown("**图层**")
show_points = st.sidebar.checkbox("警情点（聚合）", value=not scope.aggregates_only, key="map_l_points",
                                  disabled=scope.aggregates_only)
show_heat = st.sidebar.checkbox("热力图", value=True, key="map_l_heat")
show_hosp = st.sidebar.checkbox("医院及半径", value=True, key="map_l_hosp")
show_gi = st.sidebar.checkbox("Gi* 热点网格", value=False, key="map_l_gi")
show_cl = st.sidebar.checkbox("聚集区", value=False, key="map_l_cl")

c1, c2, c3 = st.columns(3)
c1.metric("筛选后警情", f"{len(events):,}")
c2.metric("涉及医院", int(events["hospital_id"].dropna().nunique()))
c3.metric("日均", f"{len(events) / max(1, (flt['end'] - flt['start']).days + 1):.1f}")

# The base map (outlines, hospitals) only changes with the hospital and radius filters; the
# incident layers go in a feature group that st_folium swaps without reloading the map.
m = maps.base_map()
if show_hosp:
    shown = hospitals if flt["hospital_ids"] is None else hospitals[hospitals["hospital_id"].isin(flt["hospital_ids"])]
    maps.add_hospitals(m, shown, radius_m=radius)
layers = folium.FeatureGroup(name="警情图层")
mode = None
if show_points and not events.empty:
    mode = maps.add_incidents(layers, events)
if show_heat and not events.empty:
    maps.add_heat(layers, events)
if show_gi and len(events) >= 30:
    try:
        cells = gi_star_grid(events).cells
        cells = cells[cells["bin"] != 0]
        maps.add_polygons(
            layers, cells, name="Gi* 热点网格",
            color_of=lambda p: maps.GI_BIN_COLORS.get(int(p.get("bin", 0)), "#fff"),
            tooltip_fields=["count", "z", "bin"], tooltip_aliases=["警情数", "z 值", "置信等级"],
        )
    except Exception as exc:  # analysis errors must not blank the map
        st.warning(f"Gi\\* 热点计算失败：{md(exc)}")
if show_cl and len(events) >= 10:
    try:
        clusters = data.clusters(*data.cache_args(scope), data.hashable_filters(flt))
        maps.add_polygons(
            layers, clusters, name="聚集区", color_of=lambda _p: "#7b3294", tooltip_fields=["cluster_id", "count"],
            tooltip_aliases=["聚集区", "警情数"],
        )
    except Exception as exc:
        st.warning(f"聚集区识别失败：{md(exc)}")
if mode == "cells":
    st.caption(f"警情较多（{len(events):,} 起），地图按约 100 米网格汇总显示，圆点大小表示起数。")
elif events.empty:
    st.info("所选条件下没有警情。")
st.caption("图例：蓝色圆圈为医院及周边半径；红色热力表示警情密集；Gi* 网格红色为热点、蓝色为冷点（颜色越深置信度越高）。")
st_folium(m, feature_group_to_add=layers, height=560, use_container_width=True, returned_objects=[],
          key="incident_map")

st.subheader("医院档案")
names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
ranked = events["hospital_id"].value_counts()
options = [h for h in ranked.index if h in names] or list(names)
hid = st.selectbox("选择医院", options=options, format_func=lambda h: f"{names.get(h, h)}（{int(ranked.get(h, 0))} 起）",
                   key="map_profile")
if hid is not None:
    sub = events[events["hospital_id"] == hid]
    row = hospitals.set_index("hospital_id").loc[hid]
    st.markdown(f"**{md(row['name'])}** · {md(row['grade'])} · {md(row['district'])} · 挂号时间 {md(row['reg_open'])}–{md(row['reg_close'])}")
    a, b = st.columns([3, 2])
    with a:
        st.caption("时段 × 星期分布")
        st.altair_chart(ui.hour_weekday_chart(ui.hour_weekday_profile(sub)), width="stretch")
    with b:
        st.caption("高发时段")
        if sub.empty:
            st.write("无警情")
        else:
            st.write("、".join(str(w) for w in peak_windows(sub)) or "无明显高峰")
        st.caption("类别构成")
        mix = sub["category"].value_counts()
        st.bar_chart(mix[mix > 0].rename("起数"), horizontal=True, height=200)
    if not scope.aggregates_only and st.checkbox("显示该院最近警情明细", key="map_details"):
        rows = data.hospital_incidents(scope, hid, flt["start"], flt["end"]).tail(50).iloc[::-1]
        # Shown as table cells (plain text); free text is masked unless the user may see personal data.
        st.dataframe(
            pd.DataFrame({
                "时间": rows["received_at"].dt.strftime("%Y-%m-%d %H:%M"), "类别": rows["category"],
                "来源": rows["source"].map(data.SOURCE_LABELS), "地址": rows["address"], "内容": rows["description"],
            }),
            hide_index=True, width="stretch",
        )
    st.caption("月度趋势（全部时段）")
    st.line_chart(pd.DataFrame(data.monthly_counts(*data.cache_args(scope), hid)), height=200)
