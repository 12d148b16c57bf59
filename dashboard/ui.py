"""Shared page furniture: sign-in glue, the demo banner, honest periods, filter widgets and charts.

Every chart here speaks Chinese without relying on the browser's locale: date axes carry explicit
d3 formats (``%Y年%-m月``), tooltips show pre-formatted strings, and the last period of a trend is
drawn apart and labelled (本月至今（截至X日）) when it is not complete (``geo.periods``).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core import settings
from core.trust.access import AccessScope
from dashboard import data, registry
from geo import periods
from geo.taxonomy import LABELS as CATEGORIES

#: The page registry (kept here under its old name for app.py).
PAGES = registry.PAGES
PageSpec = registry.PageSpec

#: d3 time formats of the axes, per period.
AXIS_FORMATS = {"D": "%-m月%-d日", "W": "%-m月%-d日", "M": "%Y年%-m月"}
FREQ_NAMES = {"D": "日", "W": "周", "M": "月"}
#: Plain-words explanations of the statistical terms shown on the pages (one line each).
TERMS = {
    "Gi*": "Gi* 热点：把地图分成小方格，某格及其四周的警情明显多于全市平均，就是热点（红）；明显少就是冷点（蓝）。",
    "置信度": "置信度：90%、95%、99% 表示这种聚集由偶然造成的可能分别低于 10%、5%、1%。",
    "Mann-Kendall": "趋势检验：逐月看热点强度是在持续上升、下降还是没有规律。",
    "Knox": "近重复：一起警情发生后，附近短期内再发生警情的倍数；大于 1 说明“一处出事、附近接着出事”。",
    "p": "p 值：结果由偶然造成的可能，小于 0.05 一般视为可信。",
    "PAI": "预测效率（PAI）：预测圈定的区域内，警情占比是面积占比的多少倍；越大越好，1 相当于随便圈。",
    "PEI*": "预测精度（PEI*）：预测命中的警情占同样面积下最多可能命中警情的比例；1 为最好。",
    "命中率": "命中率：下一期警情落在预测区域内的比例。",
    "DBSCAN": "聚集区：警情点彼此相距很近、连成一片的区域（密度聚类）。",
}


def sign_in() -> AccessScope:
    """Sign the user in (``dashboard.session.require_login``) and remember the scope for the pages.

    There is deliberately no fallback: without the sign-in module the app must not start.
    """
    from dashboard import session as auth_ui  # the sign-in module (issue 11)

    scope = auth_ui.require_login()
    st.session_state["scope"] = scope
    return scope


def allowed_page_keys(scope: AccessScope) -> set[str]:
    """Keys of :data:`PAGES` the scope may open (``session.allowed_pages`` may name keys or titles)."""
    from dashboard import session as auth_ui  # the sign-in module (issue 11)

    return {p.key for p in registry.allowed(auth_ui.allowed_pages(scope))}


def current_scope() -> AccessScope:
    """The signed-in scope (set by app.py on every run, after sign-in).

    Raises
    ------
    PermissionError
        When nobody is signed in (never falls back to an unrestricted scope while sign-in exists).
    """
    scope = st.session_state.get("scope")
    if scope is None:
        raise PermissionError("未登录：请先登录。")
    return scope


def demo_banner() -> None:
    """The red banner shown on every page while the store holds the synthetic demo."""
    if data.is_demo(data.db_url()):
        st.error(f"{data.DEMO_BANNER}：所有数字仅用于演示系统功能，不代表任何医院的真实情况。")


def page_start(title: str) -> tuple[AccessScope, pd.DataFrame]:
    """Title, demo banner; returns the scope and its (shared, read-only) incident frame.

    Also starts, once per store version and scope, the background precomputation of the analyses
    that do not depend on widgets (:func:`warm_up`).
    """
    st.title(title)
    demo_banner()
    scope = current_scope()
    df = data.incidents(scope)
    warm_up(scope, df)
    return scope, df


_WARMED: set[tuple] = set()
_PRELOAD_LOCK = threading.Lock()
#: Precompute the default analyses in the background (tests that time nothing switch it off).
WARM_UP = True
#: Above this many incidents the background analyses would hold the interpreter for minutes and slow
#: every page of every user (one process, one GIL): they run on demand instead.
WARM_UP_MAX_INCIDENTS = 300_000


def default_filters(df: pd.DataFrame) -> dict:
    """The filters :func:`incident_filters` returns before the user touches a widget."""
    c = clock(df)
    return {
        "start": max(c.first, c.complete_through - dt.timedelta(days=29)), "end": c.complete_through,
        "hours": (0, 23), "weekdays": list(range(7)), "categories": list(CATEGORIES),
        "sources": list(data.SOURCE_LABELS), "hospital_ids": None,
    }


def warm_up(scope: AccessScope, df: pd.DataFrame) -> bool:
    """Precompute, in a background thread, what 热点研判 and 重点医院 show on their default settings.

    The results land in the same ``st.cache_data`` entries the pages read (keyed on the store
    version stamp), so the first click on 运行回测 or 新兴热点 after an import costs a cache hit
    instead of half a minute. Runs once per store version and scope key in this server process.

    Returns
    -------
    bool
        Whether a warm-up thread was started.
    """
    if not WARM_UP or scope.aggregates_only or df.empty or len(df) > WARM_UP_MAX_INCIDENTS:
        return False
    args = data.cache_args(scope)
    key = (args[1], args[2])
    if key in _WARMED:
        return False
    _WARMED.add(key)
    # No script context on purpose: the cached functions' spinners must not draw into a page.
    threading.Thread(target=_precompute, args=(args, df, key), name="hh-warm-up", daemon=True).start()
    return True


def _precompute(args: tuple, df: pd.DataFrame, key: tuple) -> None:
    c = clock(df)
    flt = default_filters(df)
    month_end = periods.period_end(pd.Period(c.last_complete_month, "M"))
    try:
        data.keylist_proposal(args[0], args[1], c.planning_month)
        data.clusters(*args, data.hashable_filters(flt))
        data.knox(*args, data.hashable_filters(flt), 5000)
        data.emerging(*args, data.hashable_filters({**flt, "start": None, "end": month_end}), 250.0)
        data.backtest_summary(*args, "month", 6, month_end)
    except Exception:  # a failed warm-up only means the page computes on demand
        _WARMED.discard(key)
    _freeze_long_lived()


def _freeze_long_lived() -> None:
    """Move what is loaded now (modules, the incident frame, cached analyses) out of the collector's reach.

    They live as long as the server; without this every full collection walks them again (~0.3 s on the
    demo), in the middle of someone's rerun. Logs that the caches are filled (benchmarks wait for it).
    """
    import gc

    from streamlit.logger import get_logger

    gc.collect()
    gc.freeze()
    get_logger("hospital_hotspots.preload").info(
        "%s: caches filled %.1f s after the preload started", READY_MESSAGE, time.monotonic() - _PRELOAD_T0)


#: Modules the pages import on first use (SciPy's statistics alone take ~2 s to import). Not
#: streamlit_folium: a component declared outside a script run never loads in the browser (the map
#: frame waited 60 s for it), so pages import it themselves.
PRELOAD_MODULES = ("scipy.stats", "folium", "folium.plugins", "geo.hotspots", "geo.spacetime",
                   "planning.keylist", "planning.reports", "planning.outcomes", "planning.actions")


_PRELOAD_STARTED = False
_PRELOAD_T0 = 0.0
#: Logged once the preload (and the warm-up it started) is done.
READY_MESSAGE = "dashboard ready"


def start_preload() -> None:
    """Start :func:`preload_at_start` in a background thread, once per server process.

    Called by the server at boot (``dashboard.serve``) and by ``app.py`` on every run (a no-op after
    the first), so under ``streamlit run`` it starts while the first visitor sees the sign-in form.
    """
    global _PRELOAD_STARTED, _PRELOAD_T0
    with _PRELOAD_LOCK:
        if _PRELOAD_STARTED:
            return
        _PRELOAD_STARTED = True
        _PRELOAD_T0 = time.monotonic()
    threading.Thread(target=preload_at_start, name="hh-preload", daemon=True).start()


def preload_at_start(timeout_s: float = 120.0) -> None:
    """Run at server start, before anyone signs in: import the heavy modules, load the commanders'
    incident frame and compute the default analyses into the server's caches.

    Without it the first commander pays ~5 s of imports and loading on the first page, and the
    warm-up thread then competes with their first page switches. Waits for the Streamlit runtime
    (its cache storage is the one pages read); does nothing on a store too large to warm up.
    """
    if not _preload(timeout_s):  # a warm-up thread that took over freezes when it is done
        _freeze_long_lived()


def _preload(timeout_s: float) -> bool:
    """The work of :func:`preload_at_start`; returns whether it handed over to a warm-up thread."""
    import importlib

    from streamlit import runtime

    from core.trust.access import scope_for_role

    deadline = time.monotonic() + timeout_s
    while not runtime.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    for name in PRELOAD_MODULES:
        importlib.import_module(name)
    if not WARM_UP:
        return False
    try:
        scope = scope_for_role("commander", username="preload")
        df = data.incidents(scope)
    except Exception:  # no store yet, or an unreadable one: pages will say so
        return False
    return warm_up(scope, df)  # its guards (size, role, once per version) apply here as on a page


# --- honest periods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """Where the data stand: the current day, the last day with data and the last complete day."""

    today: dt.date
    first: dt.date
    last: dt.date
    complete_through: dt.date

    @property
    def last_complete_month(self) -> str:
        return str(periods.last_complete_period(self.complete_through, "M"))

    @property
    def planning_month(self) -> str:
        """The month after the newest complete month (default of 重点医院 and the plan)."""
        return str(pd.Period(self.last_complete_month, "M") + 1)

    def label(self, period: pd.Period) -> str:
        """"" for a complete period, else 本月至今（截至X日） and the like."""
        return periods.partial_label(period, self.complete_through, today=self.today, data_through=self.last)


def today() -> dt.date:
    """The current local date (``settings.TIMEZONE``); one place for tests to move the clock."""
    return pd.Timestamp.now(tz=settings.TIMEZONE).date()


def clock(df: pd.DataFrame) -> Clock:
    """The :class:`Clock` of an incident frame (today in ``settings.TIMEZONE``)."""
    now = today()
    first, last = data.data_span(df)
    url = data.db_url()
    store_last = data.store_last_day(url, data.data_version(url))
    if store_last is not None and store_last > last:
        last = store_last  # the scope's hospitals were quiet lately: the data still runs to the store's end
    through = periods.last_complete_day(last, now)
    return Clock(today=now, first=first, last=last, complete_through=max(first, through))


def period_input(df: pd.DataFrame, *, key: str, days: int = 30, container=None) -> tuple[dt.date, dt.date]:
    """A date-range picker defaulting to the last ``days`` complete days (the running day left out)."""
    c = clock(df)
    default = (max(c.first, c.complete_through - dt.timedelta(days=days - 1)), c.complete_through)
    box = container or st.sidebar
    value = box.date_input("时间范围", value=default, min_value=c.first, max_value=c.last, key=key, format="YYYY-MM-DD")
    if isinstance(value, tuple | list):
        if len(value) == 2:
            return value[0], value[1]
        if len(value) == 1:
            return value[0], value[0]
        return default
    return value, value


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of equal length just before ``[start, end]``."""
    n = (end - start).days + 1
    return start - dt.timedelta(days=n), start - dt.timedelta(days=1)


def window_caption(start: dt.date, end: dt.date, c: Clock, *, what: str = "数据范围") -> str:
    """"数据范围：2026年11月2日至2026年12月1日（12月1日当天未结束）" for a figure's caption."""
    text = f"{what}：{periods.fmt_date(start)}至{periods.fmt_date(end)}"
    if end > c.complete_through:
        text += f"（{end.month}月{end.day}日数据未完整，趋势中单独标出）"
    return text


def incident_filters(df: pd.DataFrame, hospitals: pd.DataFrame, *, key: str) -> dict:
    """Sidebar filters of the map pages; returns keyword arguments for ``data.filter_incidents``."""
    sb = st.sidebar
    start, end = period_input(df, key=f"{key}_period")
    hours = sb.slider("时段（时）", 0, 23, (0, 23), key=f"{key}_hours")
    weekdays = sb.multiselect(
        "星期", options=list(range(7)), default=list(range(7)), format_func=lambda i: data.WEEKDAYS[i],
        key=f"{key}_weekdays", placeholder="请选择星期",
    )
    cats = sb.multiselect("类别", options=list(CATEGORIES), default=list(CATEGORIES), key=f"{key}_cats",
                      placeholder="请选择类别")
    sources = sb.multiselect(
        "来源", options=list(data.SOURCE_LABELS), default=list(data.SOURCE_LABELS),
        format_func=lambda s: data.SOURCE_LABELS[s], key=f"{key}_sources", placeholder="请选择来源",
    )
    names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
    chosen = sb.multiselect(
        "医院（不选为全部）", options=list(names), format_func=lambda h: names.get(h, h), key=f"{key}_hospitals",
        placeholder="全部医院",
    )
    return {
        "start": start, "end": end, "hours": hours, "weekdays": weekdays, "categories": cats, "sources": sources,
        "hospital_ids": chosen or None,
    }


# --- charts --------------------------------------------------------------------------------------


def _date_label(ts: pd.Timestamp, freq: str) -> str:
    if freq == "M":
        return f"{ts.year}年{ts.month}月"
    if freq == "W":
        end = ts + pd.Timedelta(days=6)
        return f"{ts.month}月{ts.day}日—{end.month}月{end.day}日"
    return f"{ts.year}年{ts.month}月{ts.day}日（{data.WEEKDAYS[ts.day_of_week]}）"


def trend_frame(counts: pd.DataFrame | pd.Series, freq: str, c: Clock) -> pd.DataFrame:
    """Long frame of a trend (t, 系列, 起数, 日期, 状态) with the incomplete tail marked 不完整.

    ``counts`` is indexed by the first day of each period; a frame gives one column per series.
    """
    frame = counts.to_frame("警情") if isinstance(counts, pd.Series) else counts
    if frame.empty:
        return pd.DataFrame(columns=["t", "系列", "起数", "日期", "状态", "标注"])
    long = frame.rename_axis("t").reset_index().melt(id_vars="t", var_name="系列", value_name="起数")
    long["t"] = pd.to_datetime(long["t"])
    p_freq = "W-SUN" if freq == "W" else freq
    per = pd.DatetimeIndex(long["t"]).to_period(p_freq)
    labels = [c.label(p) for p in per]
    # A first period that starts before the data does is incomplete too (the store begins mid-month).
    labels = [lab or (f"自{c.first.month}月{c.first.day}日起" if p.start_time.date() < c.first else "")
              for p, lab in zip(per, labels, strict=True)]
    long["状态"] = ["不完整" if lab else "完整" for lab in labels]
    long["标注"] = labels
    long["日期"] = [_date_label(t, freq) + (f"，{lab}" if lab else "") for t, lab in zip(long["t"], labels,
                                                                                        strict=True)]
    return long


def prevalidated(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """The chart, converted without a schema check when Streamlit draws it.

    The charts built here have a fixed shape, checked against the Vega-Lite schema by the tests
    (``tests/test_dashboard_pages.py``); checking each one again on every rerun cost ~0.1 s per chart.
    """
    # An instance attribute: Streamlit calls ``chart.to_dict()``; altair's own __setattr__ would store a field.
    object.__setattr__(chart, "to_dict", functools.partial(type(chart).to_dict, chart, validate=False))
    return chart


def trend_chart(counts: pd.DataFrame | pd.Series, freq: str, c: Clock, *, height: int = 260,
                color: str | None = None, y_title: str = "起数") -> alt.LayerChart:
    """A trend whose incomplete periods are hollow points apart from the line, labelled with their cut-off.

    The line joins complete periods only: a running month drawn on it would fall to almost zero.

    Parameters
    ----------
    counts
        Counts per period (index = first day of the period); a DataFrame for several series.
    freq
        "D", "W" or "M".
    c
        The data clock (decides which periods are complete).
    """
    long = trend_frame(counts, freq, c)
    done = long[long["状态"] == "完整"]
    tail = long[long["状态"] == "不完整"]
    multi = long["系列"].nunique() > 1
    x = alt.X("t:T", title=None, axis=alt.Axis(format=AXIS_FORMATS[freq], labelAngle=0, labelOverlap=True,
                                                 tickCount={"D": 8, "W": 8, "M": 12}[freq]))
    y = alt.Y("起数:Q", title=y_title, axis=alt.Axis(format=",d", tickMinStep=1))
    col = (alt.Color("系列:N", title=None, legend=alt.Legend(orient="top")) if multi
           else alt.value(color or "#1f5fa8"))
    tip = [alt.Tooltip("日期:N", title="时间"), alt.Tooltip("系列:N", title="类别"), alt.Tooltip("起数:Q", title="起数",
                                                                                             format=",d")]
    if not multi:
        tip = [tip[0], tip[2]]
    base = alt.Chart(done).encode(x=x, y=y, color=col, tooltip=tip)
    layers = [base.mark_line(point=len(done) <= 40, strokeWidth=2)]
    if not tail.empty:
        layers.append(alt.Chart(tail).mark_point(filled=False, size=90, strokeWidth=2).encode(
            x=x, y=y, color=col, tooltip=tip))
        note = tail.groupby("t", as_index=False).agg(起数=("起数", "max"), 标注=("标注", "first"))
        note["文字"] = note["标注"] + "，不完整"
        note["align"] = ["left" if t == long["t"].min() else "right" for t in note["t"]]
        for align, part in note.groupby("align"):
            layers.append(alt.Chart(part).mark_text(align=align, dx=8 if align == "left" else -8, dy=-12,
                                                    fontSize=12, color="#c2410c").encode(x=x, y=y, text="文字:N"))
    return prevalidated(alt.layer(*layers).properties(height=height))


def bar_chart(counts: pd.Series, *, height: int | None = None, color: str = "#1f5fa8",
              x_title: str = "起数") -> alt.Chart:
    """Horizontal bars with every category named (one row per bar, labels never thinned out)."""
    t = counts[counts > 0].rename("起数").rename_axis("名称").reset_index()
    t["名称"] = t["名称"].astype(str)
    h = height or max(60, 26 * len(t) + 30)
    return prevalidated(alt.Chart(t).mark_bar(color=color).encode(
        y=alt.Y("名称:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=240)),
        x=alt.X("起数:Q", title=x_title, axis=alt.Axis(format=",d", tickMinStep=1, tickCount=8)),
        tooltip=[alt.Tooltip("名称:N", title="类别"), alt.Tooltip("起数:Q", title="起数", format=",d")],
    ).properties(height=h))


def hour_weekday_chart(profile: pd.DataFrame, *, height: int = 260, dark: bool = False) -> alt.Chart:
    """Heat map of a 7×24 count table (rows weekday 0..6, columns hour 0..23)."""
    long = profile.reset_index(names="weekday").melt(id_vars="weekday", var_name="hour", value_name="count")
    long["星期"] = long["weekday"].map(lambda i: data.WEEKDAYS[int(i)])
    long["时"] = long["hour"].astype(int).map(lambda h: f"{h}时")
    hours = [f"{h}时" for h in range(24)]
    chart = alt.Chart(long).mark_rect().encode(
        x=alt.X("时:O", sort=hours, title="时段", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("星期:N", sort=list(data.WEEKDAYS), title=None),
        color=alt.Color("count:Q", title="警情数", scale=alt.Scale(scheme="orangered"),
                        legend=alt.Legend(format=",d")),
        tooltip=["星期", alt.Tooltip("时:O", title="时段"), alt.Tooltip("count:Q", title="警情数", format=",d")],
    ).properties(height=height)
    return prevalidated(chart)


def hour_weekday_profile(events: pd.DataFrame) -> pd.DataFrame:
    """7×24 counts (geo.temporal.hour_weekday_profile)."""
    from geo.temporal import hour_weekday_profile as profile

    return profile(events)


def daily_trend(df: pd.DataFrame, *, by: str = "source") -> pd.DataFrame:
    """Daily counts, one column per value of ``by`` (labels in Chinese for sources)."""
    if df.empty:
        return pd.DataFrame()
    t = df.groupby(["date", by], observed=True).size().unstack(by, fill_value=0)
    if by == "source":
        t = t.rename(columns=data.SOURCE_LABELS)
    t.columns = [str(c) for c in t.columns]
    return t


# --- tables and words ----------------------------------------------------------------------------


def tidy(frame: pd.DataFrame, *, blank: str = "—") -> pd.DataFrame:
    """A copy fit to show: missing values as ``blank`` (never ``None``/``nan``), columns as strings."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.isna().any():
            out[col] = s.astype(object).where(s.notna(), blank)
    return out


def explain(*terms: str) -> None:
    """One plain line per statistical term, as a caption."""
    st.caption("　".join(TERMS[t] for t in terms))


def html_table(frame: pd.DataFrame, *, cls: str = "hh-table", max_rows: int | None = None) -> str:
    """An escaped HTML table (dark-theme friendly, sized by CSS) with an "另有 N 项" row when cut."""
    shown = frame if max_rows is None else frame.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape('—' if pd.isna(v) else str(v))}</td>" for v in r) + "</tr>"
        for r in shown.itertuples(index=False)
    )
    more = ""
    if max_rows is not None and len(frame) > max_rows:
        more = f'<tr><td colspan="{len(shown.columns)}" class="hh-more">另有 {len(frame) - max_rows} 项</td></tr>'
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{rows}{more}</tbody></table>'


def month_options(df: pd.DataFrame, *, ahead: int = 1) -> list[str]:
    """Months "YYYY-MM" from the month after the last complete month (plus ``ahead - 1``) back to the first."""
    c = clock(df)
    newest = pd.Period(c.planning_month, "M") + (ahead - 1)
    months = pd.period_range(pd.Period(c.first, "M") + 1, newest, freq="M")
    return [str(p) for p in reversed(months)] or [c.planning_month]


def next_month(df: pd.DataFrame) -> str:
    """The month being planned: the one after the newest complete month of data."""
    return clock(df).planning_month


def chinese_widgets() -> None:
    """Chinese words where Streamlit draws its own English: file uploaders, empty lists, "Select all".

    Called by ``app.py`` on every run, so every page (and the sign-in form) has it.
    """
    st.html(f"<style>{_widget_css()}</style>")


@functools.lru_cache(maxsize=1)
def _widget_css() -> str:
    folder = Path(__file__).resolve().parent / "static" / "css"
    return "\n".join((folder / name).read_text("utf-8") for name in ("uploader.css", "widgets.css"))
