"""Cached data access for the dashboard pages, and the optional analysis backends.

The full incident table of the caller's scope is loaded once per store version into a
``st.cache_resource`` (shared, never copied: pages must not modify it) and pages filter it in
memory, so a filter change costs a few boolean masks instead of a query. ``st.cache_data``
would unpickle a copy on every hit (~0.4 s per 500k rows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine

from core import db as store
from core import settings
from core.trust.access import AccessScope

#: Columns of the cached frame: no free text or personal fields (large, and only needed on demand
#: through :func:`hospital_incidents`), which also spares masking a million descriptions.
_SLIM_COLUMNS = (
    "incident_id", "source", "channel", "received_at", "lon", "lat", "approximate", "category", "hospital_id",
    "hospital_distance_m", "batch_id",
)
#: Weekday labels, Monday first (pandas ``dayofweek`` order).
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
SOURCE_LABELS = {"110": "110 警情", "complaint": "投诉"}

DEMO_BANNER = "演示数据（合成，非真实警情）"


def db_url() -> str:
    """The configured store URL (read at call time so tests can point it elsewhere)."""
    return settings.DB_URL


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return store.get_engine(url)


def engine() -> Engine:
    """The shared engine of the configured store."""
    return _engine(db_url())


@st.cache_data(ttl=60, show_spinner=False)
def data_version(url: str) -> tuple[int, int, int]:
    """The store version stamp (count, max id of incidents, max import batch id).

    Every cached figure is keyed on it: it changes whenever rows are imported or removed. All
    three use an index (count(*) the smallest one, max(id) the primary keys), so the check costs a
    few milliseconds even with a million rows; imports also clear it at once (:func:`clear_caches`).
    """
    t = store.Incident.__table__
    b = store.ImportBatch.__table__
    with _engine(url).connect() as conn:
        n, top = conn.execute(select(func.count(), func.max(t.c.id))).one()
        batch = conn.execute(select(func.max(b.c.id))).scalar()
    return int(n), int(top or 0), int(batch or 0)


@st.cache_data(ttl=30, show_spinner=False)
def is_demo(url: str) -> bool:
    """Whether the store holds the synthetic demo."""
    return store.is_demo(_engine(url))


_ScopeKey = tuple[str, frozenset[str] | None, bool, bool]


def _scope_key(scope: AccessScope) -> _ScopeKey:
    # The data a scope sees depends only on these fields; keying on them lets all commanders
    # share one cached frame instead of one per user name.
    return scope.role, scope.hospital_ids, scope.personal, scope.aggregates_only


def _scope_of(key: _ScopeKey) -> AccessScope:
    role, hospital_ids, personal, aggregates_only = key
    return AccessScope(role=role, hospital_ids=hospital_ids, personal=personal, aggregates_only=aggregates_only)


@st.cache_resource(show_spinner="正在加载警情数据……", max_entries=4)
def _incidents(url: str, version: tuple[int, int, int], key: _ScopeKey) -> pd.DataFrame:
    scope = _scope_of(key)
    if scope.aggregates_only:
        # Liaison and similar roles get incident facts only (no ids, places, text): their pages
        # show counts and trends, and core.db.load_incidents refuses them incident rows.
        from core.db.aggregates import incident_facts

        df = incident_facts(_engine(url), scope=scope)
    else:
        df = store.load_incidents(_engine(url), scope=scope, columns=_SLIM_COLUMNS)
    local = df["received_at"]
    df["date"] = local.dt.tz_localize(None).dt.normalize()
    df["hour"] = local.dt.hour.astype("int8")
    df["weekday"] = local.dt.day_of_week.astype("int8")
    for col in ("category", "source", "hospital_id", "channel"):
        df[col] = df[col].astype("category")
    return df


def incidents(scope: AccessScope) -> pd.DataFrame:
    """All incidents visible to ``scope`` (slim columns plus ``date``, ``hour``, ``weekday``).

    The frame is shared between sessions: treat it as read-only.
    """
    url = db_url()
    return _incidents(url, data_version(url), _scope_key(scope))


@st.cache_data(ttl=60, show_spinner=False)
def _hospitals(url: str, key: _ScopeKey) -> pd.DataFrame:
    return store.load_hospitals(_engine(url), scope=_scope_of(key))


def hospitals(scope: AccessScope) -> pd.DataFrame:
    """Hospitals visible to ``scope``."""
    return _hospitals(db_url(), _scope_key(scope))


def hospital_incidents(scope: AccessScope, hospital_id: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Full rows of one hospital's incidents in ``[start, end]`` (free text masked unless personal)."""
    return store.load_incidents(
        engine(), start=start, end=end + dt.timedelta(days=1), hospital_ids=[hospital_id], scope=scope
    )


def clear_caches() -> None:
    """Forget cached data (after an import)."""
    data_version.clear()
    is_demo.clear()
    _hospitals.clear()


def filter_incidents(
    df: pd.DataFrame,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    hours: tuple[int, int] | None = None,
    weekdays: Iterable[int] | None = None,
    categories: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    hospital_ids: Iterable[str] | None = None,
    max_distance_m: float | None = None,
) -> pd.DataFrame:
    """Rows of ``df`` matching every given filter (None leaves a filter off).

    Parameters
    ----------
    start, end
        Inclusive local dates.
    hours
        Inclusive hour range ``(first, last)``; ``first > last`` wraps midnight (e.g. 22..5).
    weekdays
        0 = Monday.
    max_distance_m
        Keep only incidents within this distance of their hospital.
    """
    mask = np.ones(len(df), dtype=bool)
    if start is not None:
        mask &= (df["date"] >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        mask &= (df["date"] <= pd.Timestamp(end)).to_numpy()
    if hours is not None and tuple(hours) != (0, 23):
        h = df["hour"].to_numpy()
        lo, hi = hours
        mask &= ((h >= lo) & (h <= hi)) if lo <= hi else ((h >= lo) | (h <= hi))
    if weekdays is not None:
        wd = set(weekdays)
        if wd != set(range(7)):
            mask &= df["weekday"].isin(wd).to_numpy()
    if categories is not None:
        mask &= df["category"].isin(list(categories)).to_numpy()
    if sources is not None:
        mask &= df["source"].isin(list(sources)).to_numpy()
    if hospital_ids is not None:
        mask &= df["hospital_id"].isin(list(hospital_ids)).to_numpy()
    if max_distance_m is not None:
        mask &= (df["hospital_distance_m"].fillna(np.inf) <= max_distance_m).to_numpy()
    return df[mask]


def data_span(df: pd.DataFrame) -> tuple[dt.date, dt.date]:
    """First and last local date with data (today twice when empty)."""
    if df.empty:
        today = pd.Timestamp.now(tz=settings.TIMEZONE).date()
        return today, today
    return _span(id(df), len(df), df)


_SPANS: dict[tuple[int, int], tuple[dt.date, dt.date]] = {}


def _span(key: int, n: int, df: pd.DataFrame) -> tuple[dt.date, dt.date]:
    # The cached frames are shared and read-only: remember their span instead of scanning a
    # million dates on every rerun (keyed by identity and length; filtered copies are scanned).
    hit = _SPANS.get((key, n))
    if hit is None:
        d = df["date"]
        hit = (d.min().date(), d.max().date())
        if len(_SPANS) > 64:
            _SPANS.clear()
        _SPANS[(key, n)] = hit
    return hit


def mix_text(mixes: Iterable, top: int = 3) -> list[str]:
    """Category mixes ({category: count}) as "医托 12、盗窃 5" strings (— when empty)."""
    return ["、".join(f"{k} {v}" for k, v in sorted(dict(m or {}).items(), key=lambda kv: -kv[1])[:top]) or "—"
            for m in mixes]


@st.cache_data(show_spinner="正在回测预测方法……", max_entries=4)
def backtest_summary(url: str, version: tuple[int, int, int], key: tuple[frozenset[str] | None, bool],
                     horizon: str, n_periods: int, through: dt.date | None = None) -> pd.DataFrame:
    """Rolling-origin backtest (geo.backtest) of the scope's incidents up to ``through``; cached per store version.

    ``through`` is the last day of the last complete period: a running month would be scored as a
    month in which almost nothing happened.
    """
    from geo.backtest import backtest

    events = _incidents(url, version, key)
    if through is not None:
        events = events[(events["date"] <= pd.Timestamp(through)).to_numpy()]
    return backtest(events, horizon=horizon, n_periods=n_periods).summary


@st.cache_data(show_spinner="正在识别聚集区……", max_entries=16)
def clusters(url: str, version: tuple[int, int, int], key: tuple[frozenset[str] | None, bool],
             filters: tuple) -> pd.DataFrame:
    """geo.hotspots.find_clusters on the filtered incidents (filters as a hashable tuple of pairs)."""
    from geo.hotspots import find_clusters

    events = filter_incidents(_incidents(url, version, key), **dict(filters))
    if len(events) < 5:
        return pd.DataFrame()
    return find_clusters(events, hospitals=_hospitals(url, key))


@st.cache_data(show_spinner="正在计算热点网格……", max_entries=16)
def gi_cells(url: str, version: tuple[int, int, int], key: tuple[frozenset[str] | None, bool],
             filters: tuple) -> pd.DataFrame:
    """Significant Gi* cells (geo.hotspots.gi_star_grid) of the filtered incidents, with Chinese bin names."""
    from dashboard.maps import GI_BIN_LABELS
    from geo.hotspots import gi_star_grid

    events = filter_incidents(_incidents(url, version, key), **dict(filters))
    if len(events) < 30:
        return pd.DataFrame()
    cells = gi_star_grid(events).cells
    cells = cells[cells["bin"] != 0].copy()
    cells["置信等级"] = cells["bin"].map(GI_BIN_LABELS)
    cells["z"] = cells["z"].round(2)
    cells["p"] = cells["p"].map(lambda v: "<0.001" if v < 0.001 else f"{v:.3f}")
    return cells


def cache_args(scope: AccessScope) -> tuple[str, tuple[int, int, int], tuple[frozenset[str] | None, bool]]:
    """(url, version, scope key): the arguments of the cached analysis functions."""
    url = db_url()
    return url, data_version(url), _scope_key(scope)


def hashable_filters(flt: dict) -> tuple:
    """A filter dict as a hashable tuple (lists to tuples) for the cached functions."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in flt.items()))


@st.cache_data(show_spinner="正在进行新兴热点分析……", max_entries=8)
def emerging(url: str, version: tuple[int, int, int], key: tuple[frozenset[str] | None, bool], filters: tuple,
             cell_size: float):
    """geo.spacetime.emerging_hotspots over all months of the filtered incidents (cells with a pattern)."""
    from geo.spacetime import emerging_hotspots

    events = filter_incidents(_incidents(url, version, key), **dict(filters))
    if len(events) < 30:
        return None
    cells = emerging_hotspots(events, cell_size=cell_size).cells
    return cells[cells["category"] != "no_pattern"]


@st.cache_data(show_spinner="正在计算近重复（Knox）……", max_entries=8)
def knox(url: str, version: tuple[int, int, int], key: tuple[frozenset[str] | None, bool], filters: tuple,
         max_events: int) -> pd.DataFrame | None:
    """geo.spacetime.knox_table of the filtered incidents (None when too few or too many)."""
    from geo.spacetime import knox_table

    events = filter_incidents(_incidents(url, version, key), **dict(filters))
    if not 20 <= len(events) <= max_events:
        return None
    return knox_table(events).table


def work_stamp(url: str) -> tuple:
    """A stamp of the work data (plans and their status, key lists, check-ins, results, outcomes).

    Figures built from them are cached on it and are never stale: inserts move a ``max(id)``,
    in-place updates an ``updated_at`` or a status time. Not the audit log: every sign-in writes
    to it, and would recompute the figures for each new session. One uncached query of indexed
    aggregates: a few milliseconds.
    """
    s = store.schema
    approved = func.sum(case((s.PlanStatus.status == "approved", 1), else_=0))
    cols = [func.max(s.PlanRecord.id), func.max(s.PlanEdit.id), func.count(s.PlanStatus.plan_id), approved,
            func.max(s.PlanStatus.approved_at), func.max(s.PlanStatus.closed_at), func.max(s.KeylistEntry.updated_at),
            func.max(s.VisitCheckin.id), func.max(s.VisitCheckin.updated_at), func.max(s.ActionResult.id),
            func.max(s.ActionResult.updated_at), func.max(s.ActionOutcome.id), func.max(s.DailyOutcome.id)]
    with _engine(url).connect() as conn:
        row = conn.execute(select(*[select(c).scalar_subquery() for c in cols])).one()
    return tuple(str(v) for v in row)


def approved_actions(url: str, month: str) -> pd.DataFrame:
    """Actions of the approved plan of ``month``: hospital_id, start, end, officers."""
    return _approved_actions(url, work_stamp(url), month)


@st.cache_data(show_spinner=False, max_entries=32)
def _approved_actions(url: str, stamp: tuple, month: str) -> pd.DataFrame:
    from planning.outcomes import stored_actions

    return stored_actions(_engine(url), month=month).sort_values("start", ignore_index=True)


def keylist_names(url: str, month: str) -> list[str]:
    """Hospital ids of the stored final key-hospital list of ``month`` (empty when none is stored)."""
    return _keylist_names(url, work_stamp(url), month)


@st.cache_data(show_spinner=False, max_entries=32)
def _keylist_names(url: str, stamp: tuple, month: str) -> list[str]:
    from planning.keylist import final_keylist

    return list(final_keylist(_engine(url), month=month, create=False))


def _due_clock() -> pd.Timestamp:
    # Dosage counts the visits whose start has passed: a five-minute clock keeps cache hits useful.
    from planning.reports import _now

    return _now().floor("5min")


def dosage(scope: AccessScope, month: str):
    """planning.reports.dosage of ``month`` for the scope's hospitals (cached on the work stamp)."""
    url = db_url()
    ids = None if scope.hospital_ids is None else tuple(sorted(scope.hospital_ids))
    return _dosage(url, work_stamp(url), month, ids, _due_clock())


@st.cache_data(show_spinner="正在统计巡防完成情况……", max_entries=16)
def _dosage(url: str, stamp: tuple, month: str, hospital_ids: tuple[str, ...] | None, as_of: pd.Timestamp):
    from planning.reports import dosage as _compute

    return _compute(_engine(url), month=month, as_of=as_of, hospital_ids=hospital_ids)


def monthly_bulletin(month: str) -> dict:
    """planning.reports.monthly_bulletin of ``month`` (cached on the store version and the work stamp)."""
    url = db_url()
    return _bulletin(url, data_version(url), work_stamp(url), month, _due_clock())


@st.cache_data(show_spinner="正在生成月度通报……", max_entries=8)
def _bulletin(url: str, version: tuple[int, int, int], stamp: tuple, month: str, as_of: pd.Timestamp) -> dict:
    from planning.reports import monthly_bulletin as _compute

    return _compute(_engine(url), month=month, as_of=as_of)


def action_evaluation(month: str, window_days: int):
    """planning.outcomes.evaluate_actions of ``month`` (cached on both stamps and the day)."""
    url = db_url()
    return _evaluation(url, data_version(url), work_stamp(url), month, window_days, _due_clock().normalize())


@st.cache_data(show_spinner="正在评估行动效果……", max_entries=16)
def _evaluation(url: str, version: tuple[int, int, int], stamp: tuple, month: str, window_days: int,
                day: pd.Timestamp):
    from planning.outcomes import evaluate_actions

    return evaluate_actions(_engine(url), month=month, window_days=window_days)


def monthly_statistics(month: str) -> pd.DataFrame:
    """planning.outcomes.monthly_statistics of ``month`` (cached on the work stamp)."""
    url = db_url()
    return _statistics(url, work_stamp(url), month)


@st.cache_data(show_spinner=False, max_entries=16)
def _statistics(url: str, stamp: tuple, month: str) -> pd.DataFrame:
    from planning.outcomes import monthly_statistics as _compute

    return _compute(_engine(url), month=month)


@st.cache_data(show_spinner="正在生成重点医院建议……", max_entries=8)
def keylist_proposal(url: str, version: tuple[int, int, int], month: str) -> pd.DataFrame:
    """planning.keylist.propose_keylist for ``month`` (cached per store version: it reads months of data)."""
    from planning.keylist import propose_keylist

    return propose_keylist(_engine(url), month=month)


def _month_starts(df: pd.DataFrame) -> pd.DatetimeIndex:
    # numpy's month unit: ~20x faster than .dt.to_period("M") on a million rows.
    return pd.DatetimeIndex(df["date"].to_numpy().astype("datetime64[M]").astype("datetime64[ns]"), name="月份")


def _every_month(counts: pd.DataFrame | pd.Series, months: pd.DatetimeIndex) -> pd.DataFrame | pd.Series:
    """``counts`` on every month from the first to the last of ``months`` (zero where there were none)."""
    full = pd.date_range(months.min(), months.max(), freq="MS", name="月份") if len(months) else months[:0]
    return counts.reindex(full, fill_value=0).astype(int)


@st.cache_data(show_spinner=False, max_entries=8)
def monthly_by_hospital(url: str, version: tuple[int, int, int],
                        key: tuple[frozenset[str] | None, bool]) -> pd.DataFrame:
    """Incidents per month (rows: first day, every month of the store) and hospital (columns: ids).

    Cached per store version: it scans every row, and the pages that show it rerun on each widget change.
    """
    df = _incidents(url, version, key)
    months = _month_starts(df)
    table = pd.Series(1, index=months).groupby([months, df["hospital_id"].to_numpy()]).size()
    return _every_month(table.unstack(fill_value=0) if len(table) else pd.DataFrame(index=months[:0]), months)


@st.cache_data(show_spinner=False, max_entries=8)
def monthly_total(url: str, version: tuple[int, int, int], key: tuple[frozenset[str] | None, bool]) -> pd.Series:
    """Incidents per month over the whole store, with or without a hospital (cached like the table above)."""
    months = _month_starts(_incidents(url, version, key))
    return _every_month(months.value_counts(), months).rename("起数")


def monthly_counts(url: str, version: tuple[int, int, int], key: tuple[frozenset[str] | None, bool],
                   hospital_id: str) -> pd.Series:
    """Incidents per month of one hospital, every month of the store (zero where it had none)."""
    table = monthly_by_hospital(url, version, key)
    column = table[hospital_id] if hospital_id in table.columns else pd.Series(0, index=table.index)
    return column.rename("起数")


@st.cache_data(ttl=60, show_spinner=False)
def approved_plan_document(url: str, month: str) -> dict | None:
    """The documented JSON (docs/plan_json.md) of the newest approved plan of ``month``, or None."""
    import json

    try:
        from core.db.schema import PlanRecord
    except ImportError:
        return None
    eng = _engine(url)
    with eng.connect() as conn:
        body = conn.execute(
            select(PlanRecord.body).where(PlanRecord.month == month).order_by(PlanRecord.id.desc()).limit(1)
        ).scalar()
    return None if body is None else json.loads(body)


@st.cache_data(show_spinner="正在用滚动回测评估下月预测的价值……", max_entries=4)
def forecast_worth(url: str, version: tuple[int, int, int], key: tuple[frozenset[str] | None, bool],
                   through: dt.date) -> str:
    """What next month's forecast is worth against counting the past (geo.forecast_auto.choose_method), in plain
    Chinese; computed on complete months up to ``through``, cached per store version."""
    from geo.forecast_auto import choose_method

    events = _incidents(url, version, key)
    events = events[(events["date"] <= pd.Timestamp(through)).to_numpy()]
    until = pd.Timestamp(through) + pd.Timedelta(days=1)
    return choose_method(events, until=until, horizon="month").statement()


@st.cache_data(show_spinner=False, max_entries=8)
def store_last_day(url: str, version: tuple[int, int, int]) -> dt.date | None:
    """The last local date with any incident in the store: where the data ends for every role.

    A stationed officer's own hospital may have had no incident in the last days; the store's data still ends
    where the import ended, and the month being planned is the same for everybody. A date only, no row.
    """
    from sqlalchemy import func, select

    with _engine(url).connect() as conn:
        last = conn.execute(select(func.max(store.Incident.__table__.c.received_at))).scalar_one()
    return pd.Timestamp(last).date() if last is not None else None
