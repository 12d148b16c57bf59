"""会商大屏: the coordination-meeting screen — dark, one 16:9 screen without scrolling, type scaled to the viewport.

Everything but the map is plain HTML drawn here (figures, bars, an SVG trend, a CSS heat grid and
tables), sized in viewport units by ``dashboard/static/css/screen.css``: charts and data grids
with pixel heights cannot follow a 4K wall, and Streamlit's data grid ignores a dark page theme.
Tables show a fixed number of rows and say how many more there are.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard import data, maps, ui
from geo import periods

#: Rows of each right-hand table that fit the screen (the rest is counted in a last row).
TABLE_ROWS = 6
CSS = (Path(__file__).resolve().parent.parent / "static" / "css" / "screen.css").read_text(encoding="utf-8")

# Fixed style sheet (no user data).
st.html(f"<style>{CSS}</style>")

scope = ui.current_scope()
df = data.incidents(scope)
hospitals = data.hospitals(scope)
clk = ui.clock(df)
last = clk.complete_through
start = max(clk.first, last - pd.Timedelta(days=29).to_pytimedelta())
prev_start, prev_end = ui.previous_period(start, last)
cur = data.filter_incidents(df, start=start, end=last)
prev = data.filter_incidents(df, start=prev_start, end=prev_end)
names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
esc = html.escape

head, link, tog = st.columns([7, 1, 1], vertical_alignment="center")
head.title("医院周边警情态势 · 会商大屏")
with link:
    st.page_link("views/overview.py", label="返回工作台")
with tog:
    rotate = st.toggle("轮播", value=False, key="screen_rotate", help="每 15 秒切换中间的图表")
if data.is_demo(data.db_url()):
    st.error(f"{data.DEMO_BANNER} —— 仅供演示，不代表真实情况")
st.caption(f"统计时段：近 30 个完整日（{periods.fmt_date(start)}至{periods.fmt_date(last)}），与之前 30 天"
           f"（{periods.fmt_date(prev_start)}至{periods.fmt_date(prev_end)}）对比；数据截至 {periods.fmt_date(clk.last)}。")


def _kpi(label: str, now: int, before: int | None) -> str:
    delta = ""
    if before is not None:
        d = now - before
        pct = f"，{d / before:+.0%}" if before else ""
        delta = f'<div class="d{" down" if d < 0 else ""}">较前 30 天 {d:+,}{pct}</div>'
    return f'<div class="hh-kpi"><div class="l">{esc(label)}</div><div class="v">{now:,}</div>{delta}</div>'


touts = ["号贩子/倒号", "医托"]
tiles = [
    _kpi("警情总数", len(cur), len(prev)),
    _kpi("110 警情", int((cur["source"] == "110").sum()), int((prev["source"] == "110").sum())),
    _kpi("投诉", int((cur["source"] == "complaint").sum()), int((prev["source"] == "complaint").sum())),
    _kpi("涉及医院", int(cur["hospital_id"].dropna().nunique()), None),
    _kpi("号贩子/医托", int(cur["category"].isin(touts).sum()), int(prev["category"].isin(touts).sum())),
]
st.html(f'<div class="hh-kpis">{"".join(tiles)}</div>')

top = cur["hospital_id"].value_counts().head(6)


def _panel_trend() -> None:
    st.subheader("每日趋势（近 90 个完整日）")
    recent = data.filter_incidents(df, start=last - pd.Timedelta(days=89).to_pytimedelta(), end=last)
    daily = recent.groupby("date").size().reindex(
        pd.date_range(max(clk.first, last - pd.Timedelta(days=89).to_pytimedelta()), last), fill_value=0)
    if daily.empty:
        st.html('<div class="hh-panel"><div class="hh-note">暂无数据</div></div>')
        return
    hi = max(int(daily.max()), 1)
    # One column per day, heights in % of the panel: scales with the screen like the text.
    bars = "".join(
        f'<i style="height:{100 * v / hi:.1f}%" title="{d.month}月{d.day}日 {int(v)} 起"></i>'
        for d, v in daily.items()
    )
    first_d, mid_d, last_d = daily.index[0], daily.index[len(daily) // 2], daily.index[-1]
    st.html(
        f'<div class="hh-panel"><div class="s">最高 {hi} 起/日，最低 {int(daily.min())} 起/日，'
        f'日均 {daily.mean():.0f} 起</div><div class="hh-cols">{bars}</div>'
        f'<div class="hh-axis"><span>{first_d.month}月{first_d.day}日</span><span>{mid_d.month}月{mid_d.day}日</span>'
        f'<span>{last_d.month}月{last_d.day}日</span></div></div>'
    )


def _panel_top() -> None:
    st.subheader("警情最多的医院（近 30 天）")
    if top.empty:
        st.html('<div class="hh-panel"><div class="hh-note">暂无数据</div></div>')
        return
    hi = max(int(top.max()), 1)
    rows = "".join(
        f'<div class="n">{esc(names.get(h, str(h)))}</div><div><div class="b" style="width:{100 * v / hi:.1f}%">'
        f'</div></div><div class="c">{int(v):,}</div>'
        for h, v in top.items()
    )
    st.html(f'<div class="hh-panel"><div class="hh-bars">{rows}</div></div>')


def _panel_hours() -> None:
    st.subheader("时段 × 星期（近 30 天）")
    prof = ui.hour_weekday_profile(cur)
    hi = max(float(prof.to_numpy().max()), 1.0)
    cells = ['<span class="w"></span>'] + [f'<span class="w">{h if h % 3 == 0 else ""}</span>' for h in range(24)]
    for wd in range(7):
        cells.append(f'<span class="w">{data.WEEKDAYS[wd]}</span>')
        for h in range(24):
            v = float(prof.iloc[wd, h]) / hi
            cells.append(f'<span title="{data.WEEKDAYS[wd]} {h}时" style="background: rgba(255,107,74,{0.08 + 0.92 * v:.2f})">'
                         "</span>")
    st.html(f'<div class="hh-panel"><div class="hh-heat">{"".join(cells)}</div>'
            '<div class="s">颜色越亮警情越多；横轴为时（0—23 时）</div></div>')


left, mid, right = st.columns([5, 3.6, 3.6])
with left:
    st.subheader("警情分布（近 30 天）")
    m = maps.base_map(dark=True, zoom=11, fill=True)
    maps.add_hospitals(m, hospitals, highlight=set(top.index[:5]), dark=True)
    # The busy middle of the city (outlying hospitals would zoom the whole map out).
    box = hospitals[["lon", "lat"]].quantile([0.1, 0.9])
    maps.fit(m, box["lon"], box["lat"])
    maps.add_heat(m, cur)
    maps.Legend("警情密度", gradient=maps.HEAT_GRADIENT, ends=("较少", "密集")).add_to(m)
    st_folium(m, height=640, use_container_width=True, returned_objects=[], key="screen_map")

with mid:
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
    done_month = clk.last_complete_month
    st.subheader(f"{periods.fmt_month(done_month)}集中行动成效")
    try:
        ev_table = data.action_evaluation(done_month, 28).table
    except ValueError:
        st.html('<div class="hh-panel"><div class="hh-note">该月没有已批准的集中行动方案。</div></div>')
    else:
        ev = pd.DataFrame({
            "医院": [names.get(h, h) for h in ev_table["hospital_id"]],
            # An open after-window has no after-figure yet: 待评估, never "→None".
            "行动前→后": [f"{a}→{b}" if pd.notna(b) else f"{a}→待评估"
                         for a, b in zip(ev_table["t_before"], ev_table["t_after"], strict=True)],
            "结论": ev_table["verdict"].fillna("—").astype(str).str.replace("行动后警情", "", regex=False),
        })
        st.html(f'<div class="hh-panel">{ui.html_table(ev, max_rows=TABLE_ROWS)}</div>')
    nxt = clk.planning_month
    st.subheader(f"{periods.fmt_month(nxt)}巡防计划")
    acts = data.approved_actions(data.db_url(), nxt)
    listed = data.keylist_names(data.db_url(), nxt)
    if not acts.empty:
        plan = pd.DataFrame({
            "医院": [names.get(h, h) for h in acts["hospital_id"]],
            "集中行动": [f"{t.month}月{t.day}日 {t:%H:%M}" for t in pd.to_datetime(acts["start"])],
            "警力": acts["officers"].astype(int).astype(str) + " 人",
        })
        st.html(f'<div class="hh-panel">{ui.html_table(plan, max_rows=TABLE_ROWS)}</div>')
    elif listed:
        st.html('<div class="hh-panel"><div class="hh-note">重点医院：'
                + esc("、".join(names.get(h, h) for h in listed)) + "</div>"
                '<div class="s">计划尚未批准。</div></div>')
    else:
        st.html('<div class="hh-panel"><div class="hh-note">下月计划尚未生成。</div></div>')
