"""Shared page furniture: sign-in glue, the demo banner, filter widgets and chart helpers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import altair as alt
import pandas as pd
import streamlit as st

from core.trust.access import AccessScope
from dashboard import data
from geo.taxonomy import LABELS as CATEGORIES


@dataclass(frozen=True)
class PageSpec:
    """One page: file stem and URL path (``key``) and Chinese title.

    Pages carry no icon: Streamlit turns a page's Material icon into the browser-tab favicon by
    fetching it from fonts.gstatic.com, which the intranet cannot reach.
    """

    key: str
    title: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "总览"),
    PageSpec("map", "警情地图"),
    PageSpec("analysis", "热点研判"),
    PageSpec("hospitals", "重点医院"),
    PageSpec("plan", "巡防计划"),
    PageSpec("today", "今日任务"),
    PageSpec("evaluation", "成效评估"),
    PageSpec("import", "数据导入"),
    PageSpec("screen", "会商大屏"),
    # Written by the trust work (users, audit trail); registered for administrators only.
    PageSpec("admin", "系统管理"),
)

def sign_in() -> AccessScope:
    """Sign the user in (``dashboard.auth_ui.require_login``) and remember the scope for the pages.

    There is deliberately no fallback: without the sign-in module the app must not start.
    """
    from dashboard import auth_ui

    scope = auth_ui.require_login()
    st.session_state["scope"] = scope
    return scope


def allowed_page_keys(scope: AccessScope) -> set[str]:
    """Keys of :data:`PAGES` the scope may open (``auth_ui.allowed_pages`` may name keys or titles)."""
    from dashboard import auth_ui

    names = set(auth_ui.allowed_pages(scope))
    return {p.key for p in PAGES if p.key in names or p.title in names or f"views/{p.key}.py" in names}


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
    """Title, demo banner; returns the scope and its (shared, read-only) incident frame."""
    st.title(title)
    demo_banner()
    scope = current_scope()
    return scope, data.incidents(scope)


def period_input(df: pd.DataFrame, *, key: str, days: int = 30, container=None) -> tuple[dt.date, dt.date]:
    """A date-range picker defaulting to the last ``days`` days with data."""
    first, last = data.data_span(df)
    default = (max(first, last - dt.timedelta(days=days - 1)), last)
    box = container or st.sidebar
    value = box.date_input("时间范围", value=default, min_value=first, max_value=last, key=key, format="YYYY-MM-DD")
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


def incident_filters(df: pd.DataFrame, hospitals: pd.DataFrame, *, key: str) -> dict:
    """Sidebar filters of the map pages; returns keyword arguments for ``data.filter_incidents``."""
    sb = st.sidebar
    start, end = period_input(df, key=f"{key}_period")
    hours = sb.slider("时段（时）", 0, 23, (0, 23), key=f"{key}_hours")
    weekdays = sb.multiselect(
        "星期", options=list(range(7)), default=list(range(7)), format_func=lambda i: data.WEEKDAYS[i],
        key=f"{key}_weekdays",
    )
    cats = sb.multiselect("类别", options=list(CATEGORIES), default=list(CATEGORIES), key=f"{key}_cats")
    sources = sb.multiselect(
        "来源", options=list(data.SOURCE_LABELS), default=list(data.SOURCE_LABELS),
        format_func=lambda s: data.SOURCE_LABELS[s], key=f"{key}_sources",
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


def hour_weekday_chart(profile: pd.DataFrame, *, height: int = 260, dark: bool = False) -> alt.Chart:
    """Heat map of a 7×24 count table (rows weekday 0..6, columns hour 0..23)."""
    long = profile.reset_index(names="weekday").melt(id_vars="weekday", var_name="hour", value_name="count")
    long["星期"] = long["weekday"].map(lambda i: data.WEEKDAYS[int(i)])
    long["hour"] = long["hour"].astype(int)
    chart = alt.Chart(long).mark_rect().encode(
        x=alt.X("hour:O", title="时"),
        y=alt.Y("星期:N", sort=list(data.WEEKDAYS), title=None),
        color=alt.Color("count:Q", title="警情数", scale=alt.Scale(scheme="orangered")),
        tooltip=["星期", alt.Tooltip("hour:O", title="时"), alt.Tooltip("count:Q", title="警情数")],
    ).properties(height=height)
    return chart


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


def month_options(df: pd.DataFrame, *, ahead: int = 1) -> list[str]:
    """Months "YYYY-MM" from the newest with data plus ``ahead`` back to the first, newest first."""
    first, last = data.data_span(df)
    months = pd.period_range(pd.Period(first, "M"), pd.Period(last, "M") + ahead, freq="M")
    return [str(p) for p in reversed(months)]


def next_month(df: pd.DataFrame) -> str:
    """The month after the newest data (the month being planned)."""
    return str(pd.Period(data.data_span(df)[1], "M") + 1)
