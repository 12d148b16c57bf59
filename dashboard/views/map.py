"""警情地图: filtered incidents, heat map, hospitals with their radius, Gi* cells, clusters; hospital profiles."""

from __future__ import annotations

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from core import settings
from dashboard import data, maps, ui
from dashboard.safe import md
from geo.temporal import peak_windows

scope, df = ui.page_start("警情地图")
hospitals = data.hospitals(scope)
clk = ui.clock(df)
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
show_gi = st.sidebar.checkbox("热点网格（Gi*）", value=False, key="map_l_gi")
show_cl = st.sidebar.checkbox("聚集区", value=False, key="map_l_cl")

c1, c2, c3 = st.columns(3)
c1.metric("筛选后警情", f"{len(events):,}")
c2.metric("涉及医院", int(events["hospital_id"].dropna().nunique()))
c3.metric("日均", f"{len(events) / max(1, (flt['end'] - flt['start']).days + 1):.1f}")
st.caption(ui.window_caption(flt["start"], flt["end"], clk, what="地图数据范围"))

names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
ranked = events["hospital_id"].value_counts()
by_count = [h for h in ranked.index if h in names] + [h for h in names if h not in ranked.index]
focus_options = [None, *(flt["hospital_ids"] or by_count)]
focus_id = st.selectbox(
    "地图定位", focus_options, placeholder="请选择", key="map_focus",
    format_func=lambda h: "全市" if h is None else f"{names.get(h, h)}（{int(ranked.get(h, 0))} 起）",
    help="选择医院后地图放大到该院周边，并在下方显示该院档案。",
)

# The base map (outlines, hospitals) only changes with the hospital and radius filters; the
# incident layers go in a feature group that st_folium swaps without reloading the map.
m = maps.base_map()
if show_hosp:
    shown = hospitals if flt["hospital_ids"] is None else hospitals[hospitals["hospital_id"].isin(flt["hospital_ids"])]
    top5 = set(by_count[:5])
    maps.add_hospitals(m, shown, radius_m=radius, highlight={focus_id} if focus_id else top5)
if focus_id is not None:
    spot = hospitals.set_index("hospital_id").loc[focus_id]
    maps.focus(m, float(spot["lon"]), float(spot["lat"]), zoom=15)
elif flt["hospital_ids"]:
    spot = hospitals[hospitals["hospital_id"].isin(flt["hospital_ids"])]
    maps.focus(m, float(spot["lon"].mean()), float(spot["lat"].mean()), zoom=14 if len(spot) == 1 else 12)
legend: list[tuple[str, str]] = []
layers = folium.FeatureGroup(name="警情图层")
mode = None
if show_points and not events.empty:
    mode = maps.add_incidents(layers, events)
if show_heat and not events.empty:
    maps.add_heat(layers, events)
    maps.Legend("热力图：警情密度", gradient=maps.HEAT_GRADIENT, ends=("较少", "密集")).add_to(m)
if show_hosp:
    legend.append(("#1f5fa8", f"医院及周边 {radius} 米范围"))
    legend.append(("#ff3b30", "所选医院" if focus_id else "警情最多的 5 家医院（始终标名）"))
if mode == "markers":
    legend += [("#6ecc39", "警情聚合：少（圆内数字为起数）"), ("#f0c20c", "警情聚合：中"), ("#f18017", "警情聚合：多"),
               ("#2a81cb", "单起警情（蓝色标记）")]
elif mode == "cells":
    legend.append(("#b2182b", "约 100 米网格内警情（圆越大越多）"))
if show_gi and len(events) >= 30:
    try:
        cells = data.gi_cells(*data.cache_args(scope), data.hashable_filters(flt))
        maps.add_polygons(
            layers, cells, name="热点网格",
            color_of=lambda p: maps.GI_BIN_COLORS.get(int(p.get("bin", 0)), "#fff"),
            tooltip_fields=["置信等级", "count"], tooltip_aliases=["类型", "警情数"],
            popup_fields=["置信等级", "count", "z", "p"], popup_aliases=["类型", "网格内警情数", "z 值", "p 值"],
            style_fields=["bin"],
        )
        legend += [(maps.GI_BIN_COLORS[b], maps.GI_BIN_LABELS[b]) for b in (3, 2, 1, -1, -2, -3)]
    except Exception as exc:  # analysis errors must not blank the map
        st.warning(f"热点网格计算失败：{md(exc)}")
if show_cl and len(events) >= 10:
    try:
        clusters = data.clusters(*data.cache_args(scope), data.hashable_filters(flt))
        if not clusters.empty:
            clusters = clusters.assign(
                医院=[names.get(h, "—") if isinstance(h, str) else "—" for h in clusters["hospital_id"]],
                主要类别=data.mix_text(clusters["category_mix"]),
                高发时段=["、".join(w) or "—" for w in clusters["peak_windows"]],
            )
        maps.add_polygons(
            layers, clusters, name="聚集区", color_of=lambda _p: maps.CLUSTER_COLOR,
            tooltip_fields=["cluster_id", "count"], tooltip_aliases=["聚集区编号", "警情数"],
            popup_fields=["cluster_id", "医院", "count", "主要类别", "高发时段"],
            popup_aliases=["聚集区编号", "所属医院", "警情数", "主要类别", "高发时段"],
        )
        legend.append((maps.CLUSTER_COLOR, "聚集区（点击查看详情）"))
    except Exception as exc:
        st.warning(f"聚集区识别失败：{md(exc)}")
if legend:
    maps.Legend("图例", legend).add_to(m)
if mode == "cells":
    st.caption(f"警情较多（{len(events):,} 起），地图按约 100 米网格汇总显示，圆点大小表示起数。")
elif events.empty:
    st.info("所选条件下没有警情。")
if show_gi:
    ui.explain("Gi*", "置信度")
st.caption(f"放大到第 {maps.LABEL_ZOOM} 级后显示全部医院名称；比例尺在右下角（米/公里）。点击热点网格或聚集区查看数字。")
st_folium(m, feature_group_to_add=layers, height=560, use_container_width=True, returned_objects=[],
          key="incident_map")

st.subheader("医院档案")
hid = focus_id or (by_count[0] if by_count else None)
if focus_id is None and hid is not None:
    st.caption("在上方“地图定位”中选择医院查看其档案；当前显示警情最多的医院。")
if hid is not None:
    sub = events[events["hospital_id"] == hid]
    row = hospitals.set_index("hospital_id").loc[hid]
    facts = [md(row[k]) for k in ("grade", "district") if isinstance(row.get(k), str) and row.get(k)]
    if isinstance(row.get("reg_open"), str) and isinstance(row.get("reg_close"), str):
        facts.append(f"挂号时间 {md(row['reg_open'])}—{md(row['reg_close'])}")
    st.markdown(f"**{md(row['name'])}** · " + " · ".join(facts) + f" · 所选时段 {len(sub):,} 起")
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
        st.altair_chart(ui.bar_chart(sub["category"].value_counts()), width="stretch")
    if not scope.aggregates_only and st.checkbox("显示该院最近警情明细", key="map_details"):
        rows = data.hospital_incidents(scope, hid, flt["start"], flt["end"]).tail(50).iloc[::-1]
        # Shown as table cells (plain text); free text is masked unless the user may see personal data.
        st.dataframe(
            ui.tidy(pd.DataFrame({
                "时间": rows["received_at"].dt.strftime("%Y-%m-%d %H:%M"), "类别": rows["category"],
                "来源": rows["source"].map(data.SOURCE_LABELS), "地址": rows["address"], "内容": rows["description"],
            })),
            hide_index=True, width="stretch",
        )
    st.caption("月度趋势（全部时段，不受上方时间筛选影响）")
    st.altair_chart(ui.trend_chart(data.monthly_counts(*data.cache_args(scope), hid), "M", clk, height=220),
                    width="stretch")
    st.caption(ui.window_caption(clk.first, clk.last, clk) + "；不完整的月份以空心点单独标出。")
