"""热点研判: the conclusion first (which hospitals, hours, rising or falling, what to do), then the evidence:
clusters, hour × weekday, emerging hot spots, near repeats and the forecast backtest — each explained in
one plain line."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard import data, maps, ui
from dashboard.safe import md
from geo import periods
from geo.temporal import peak_windows

#: Knox tables compare all pairs: above this many incidents the page asks for narrower filters.
KNOX_MAX_EVENTS = 5000
METHOD_LABELS = {
    "naive_last": "上期计数（基准）", "kde_retrospective": "回顾性核密度（基准）", "prospective": "前瞻性热点",
    "sepp": "自激点过程", "ensemble": "集成", "poisson_stack": "泊松组合",
}
EMERGING_ORDER = ["new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating",
                  "historical"]

scope, df = ui.page_start("热点研判")
hospitals = data.hospitals(scope)
clk = ui.clock(df)
flt = ui.incident_filters(df, hospitals, key="ana")
events = data.filter_incidents(df, **flt)
prev_start, prev_end = ui.previous_period(flt["start"], flt["end"])
prev = data.filter_incidents(df, **{**flt, "start": prev_start, "end": prev_end})
names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
st.caption(ui.window_caption(flt["start"], flt["end"], clk, what="分析范围") + f"，共 {len(events):,} 起警情；"
           f"对比上一时段 {periods.fmt_date(prev_start)}至{periods.fmt_date(prev_end)}（{len(prev):,} 起）。")


def _change(now: int, before: int) -> str:
    if before == 0:
        return "新出现" if now else "持平"
    r = (now - before) / before
    if abs(r) < 0.1:
        return f"基本持平（{r:+.0%}）"
    return f"{'上升' if r > 0 else '下降'}{abs(r):.0%}"


# --- 研判结论 -----------------------------------------------------------------------------------------
st.subheader("研判结论")
if events.empty:
    st.info("所选条件下没有警情，无法研判。")
else:
    now_h = events["hospital_id"].value_counts()
    before_h = prev["hospital_id"].value_counts()
    top = [h for h in now_h.index if h in names][:3]
    windows = peak_windows(events)
    cats = events["category"].value_counts()
    cats = cats[cats > 0]
    rising = [h for h in now_h.index[:10] if h in names and now_h[h] >= 10
              and now_h[h] > 1.2 * max(int(before_h.get(h, 0)), 1)]
    lines = [
        f"**总体**：{len(events):,} 起，较上一时段{_change(len(events), len(prev))}。",
        "**重点医院**：" + "、".join(
            f"{md(names[h])}（{int(now_h[h])} 起，{_change(int(now_h[h]), int(before_h.get(h, 0)))}）" for h in top
        ) + "。",
        "**高发时段**：" + ("、".join(windows) if windows else "无明显高峰") + "（覆盖约一半警情的时段）。",
        "**主要类别**：" + "、".join(f"{c} {n} 起" for c, n in cats.head(3).items()) + "。",
    ]
    if rising:
        lines.append("**明显上升**：" + "、".join(md(names[h]) for h in rising) + "（较上一时段增加两成以上）。")
    first_window = windows[0] if windows else "高发时段"
    advice = (f"**建议**：在 {first_window} 等高发时段，对{ '、'.join(md(names[h]) for h in top[:2]) }周边加强巡逻和"
              f"驻点，重点打击{cats.index[0] if len(cats) else '各类'}警情")
    advice += "；对明显上升的医院安排集中整治行动。" if rising else "；保持现有巡防力度并持续观察。"
    lines.append(advice)
    st.markdown("\n".join(f"- {line}" for line in lines))
    st.caption("结论由系统根据所选筛选条件自动归纳，供研判参考；具体部署以指挥员决定为准。")

# --- clusters ---------------------------------------------------------------------------------------
st.subheader("聚集区")
ui.explain("DBSCAN")
cl = data.clusters(*data.cache_args(scope), data.hashable_filters(flt))
if cl.empty:
    st.info("所选条件下没有形成聚集区。")
else:
    table = pd.DataFrame({
        "聚集区编号": cl["cluster_id"].to_numpy(),
        "所属医院": [names.get(h, "—") if isinstance(h, str) else "—" for h in cl["hospital_id"]],
        "警情数": cl["count"].to_numpy(),
        "主要类别": data.mix_text(cl["category_mix"]),
        "高发时段": ["、".join(w) or "—" for w in cl["peak_windows"]],
        "面积（平方米）": cl["area_m2"].round(0).astype(int).to_numpy() if "area_m2" in cl else 0,
    })
    st.dataframe(ui.tidy(table), hide_index=True, width="stretch")

left, right = st.columns([3, 2])
with left:
    st.subheader("时段 × 星期热力图")
    st.altair_chart(ui.hour_weekday_chart(ui.hour_weekday_profile(events)), width="stretch")
    st.caption("颜色越深，该星期该时段的警情越多。")
with right:
    st.subheader("高发时段")
    if events.empty:
        st.write("无警情")
    else:
        windows = peak_windows(events)
        st.markdown("\n".join(f"- {w}" for w in windows) or "无明显高峰")
        st.caption("覆盖一半警情的最短时段组合（不分星期）。")

# --- emerging hot spots -----------------------------------------------------------------------------
st.subheader("新兴热点")
last_month = clk.last_complete_month
month_end = periods.period_end(pd.Period(last_month, "M"))
ui.explain("Gi*", "Mann-Kendall")
st.caption(f"逐月计算热点并判断变化趋势，只用完整月份（至 {periods.fmt_month(last_month)}，"
           f"不含未结束的月份）；时间范围之外的其他筛选条件照常生效。")
flt_all = {**flt, "start": None, "end": month_end}
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
        shown = cells.assign(类型=cells["category_zh"], 警情数=cells["count"], 热点月数=cells["n_hot"])
        maps.add_polygons(
            m, shown, name="新兴热点", color_of=lambda p: maps.EMERGING_COLORS.get(p.get("category"), "#999999"),
            tooltip_fields=["类型", "警情数", "热点月数"], popup_fields=["类型", "警情数", "热点月数"],
            style_fields=["category"],
        )
        present = [c for c in EMERGING_ORDER if c in set(cells["category"])]
        zh = dict(zip(cells["category"], cells["category_zh"], strict=False))
        maps.Legend("新兴热点类型", [(maps.EMERGING_COLORS[c], zh[c]) for c in present]).add_to(m)
        if flt["hospital_ids"]:
            spot = hospitals[hospitals["hospital_id"].isin(flt["hospital_ids"])]
            maps.add_hospitals(m, spot, highlight=set(spot["hospital_id"]))
            maps.focus(m, float(spot["lon"].mean()), float(spot["lat"].mean()), zoom=14)
        st_folium(m, height=420, use_container_width=True, returned_objects=[], key="emerging_map")
    with b:
        summary = (cells.groupby("category_zh").agg(网格数=("count", "size"), 警情数=("count", "sum"))
                   .sort_values("警情数", ascending=False).rename_axis("类型").reset_index())
        st.dataframe(summary, hide_index=True, width="stretch")
        st.caption("新增：最近一个月才成为热点；连续/持续：多月一直是热点；加强：热度逐月上升；减弱：热度逐月下降；"
                   "零散/振荡：时有时无；历史：过去是热点、近期不是。")

# --- near repeats -----------------------------------------------------------------------------------
st.subheader("近重复")
ui.explain("Knox", "p")
kt = data.knox(*data.cache_args(scope), data.hashable_filters(flt), KNOX_MAX_EVENTS)
if kt is None:
    st.info(f"近重复分析需要 20 至 {KNOX_MAX_EVENTS:,} 起警情，请缩小范围（如只选一家医院或较短时段）。")
else:
    kt = kt.assign(
        距离=[f"{lo:g}—{hi:g} 米" for lo, hi in zip(kt["d_lo"], kt["d_hi"], strict=True)],
        间隔=[f"{lo:g}—{hi:g} 天内" for lo, hi in zip(kt["t_lo"], kt["t_hi"], strict=True)],
    )
    pivot = kt.pivot(index="距离", columns="间隔", values="ratio").round(2)
    pivot = pivot.loc[kt.drop_duplicates("距离").sort_values("d_lo")["距离"],
                      kt.drop_duplicates("间隔").sort_values("t_lo")["间隔"]]
    st.dataframe(ui.tidy(pivot.rename_axis(None, axis=1).reset_index()), hide_index=True, width="stretch")
    st.caption("表中数字为“实际同时相邻的警情对数 ÷ 随机情况下的期望对数”。")
    sig = kt[(kt["p"] < 0.05) & (kt["ratio"] > 1)]
    if sig.empty:
        st.caption("没有可信的近重复现象：一处出事后附近并不更容易接着出事。")
    else:
        st.markdown("**可信的近重复**：" + "；".join(
            f"相距 {r.距离}、{r.间隔}再发的倍数为 {r.ratio:.2f}" for r in sig.itertuples()
        ) + "。建议：警情发生后短期内对周边加密巡逻。")

# --- backtest -------------------------------------------------------------------------------------------
st.subheader("下月预测的价值")
st.caption("用本辖区的历史数据逐月回测：让系统自动选出的预测方法与“按历史计数”比较，说明圈定同样面积时多覆盖多少警情。")
if st.button("评估下月预测的价值（约需半分钟）", key="fw_run") or st.session_state.get("fw_done"):
    st.session_state["fw_done"] = True
    try:
        st.info(md(data.forecast_worth(*data.cache_args(scope), month_end)))
    except ValueError as exc:
        st.warning(f"历史数据不足，暂不能评估：{md(exc)}")

st.subheader("预测方法回测")
ui.explain("命中率", "PAI", "PEI*")
st.caption("用过去的数据预测下一个完整周期的警情位置，再与实际比对；只用完整周期，标注“基准”的是最简单的对照方法。")
c1, c2 = st.columns(2)
horizon = c1.selectbox("预测周期", ["month", "week"], placeholder="请选择", format_func={"month": "月", "week": "周"}.get, key="bt_h")
n_periods = c2.slider("回测期数", 2, 12, 6, key="bt_n")
if st.button("运行回测", key="bt_run") or st.session_state.get("bt_done"):
    st.session_state["bt_done"] = True
    through = (month_end if horizon == "month"
               else periods.last_complete_week(clk.last, clk.today)[1])
    try:
        summary = data.backtest_summary(*data.cache_args(scope), horizon, n_periods, through)
    except ValueError as exc:
        st.error(f"回测无法进行：{md(exc)}")
    else:
        st.caption(f"回测数据截至 {periods.fmt_date(through)}（最后一个完整{ui.FREQ_NAMES['M' if horizon == 'month' else 'W']}）。")
        s = summary.assign(方法=summary["method"].map(lambda m: METHOD_LABELS.get(m, m)))
        s["覆盖面积"] = s["coverage"].map(lambda c: f"{c:g}%")
        chart = alt.Chart(s).mark_line(point=True).encode(
            x=alt.X("覆盖面积:O", title="预测圈定的面积占比", sort=[f"{c:g}%" for c in sorted(s["coverage"].unique())],
                    axis=alt.Axis(labelAngle=0)),
            y=alt.Y("pai:Q", title="预测效率（PAI）"),
            color=alt.Color("方法:N", title="方法", legend=alt.Legend(orient="top")),
            tooltip=["方法", alt.Tooltip("覆盖面积:O", title="面积占比"),
                     alt.Tooltip("hit_rate:Q", title="命中率", format=".1%"),
                     alt.Tooltip("pai:Q", title="预测效率", format=".2f"),
                     alt.Tooltip("pei:Q", title="预测精度", format=".2f")],
        ).properties(height=300)
        st.altair_chart(chart, width="stretch")
        st.dataframe(
            ui.tidy(s[["方法", "覆盖面积", "hit_rate", "pai", "pei"]].rename(
                columns={"hit_rate": "命中率", "pai": "预测效率（PAI）", "pei": "预测精度（PEI*）"}
            ).round(3)),
            hide_index=True, width="stretch",
            column_config={"命中率": st.column_config.NumberColumn(format="percent")},
        )
