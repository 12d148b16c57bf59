"""The monthly key-hospital list (挂账整治名单): score, propose 列入/销号/保持, override, history.

The list for month M is assessed on the month before it, provided that month is complete
(``geo.periods``: its last day lies before the current day and within the data); when it is not
(the data end on the current day of that month), the newest complete month is assessed instead
and the reasons say so, so that one running day is never scored as a month. The default month to
list (:func:`default_month`) is the month after the newest complete month.

* **severity**: 110 incidents within the hospital's radius, each weighted by
  ``settings.SEVERITY_WEIGHTS`` of its category;
* **complaints**: complaints naming or located at the hospital;
* **trend**: change of the severity-weighted count against the mean of the
  ``settings.KEYLIST_TREND_MONTHS`` months before (only rises add to the score);
* **hotspot**: the strongest significant Getis–Ord Gi* z (``geo.hotspots.gi_star_grid``, FDR
  controlled) among grid cells within the hospital radius.

Each component is scaled to 0..1 across hospitals and combined with
``settings.KEYLIST_WEIGHTS`` into a score of 0..100. The top ``KEYLIST_SIZE`` are proposed for
listing; a listed hospital is proposed for de-listing only when it falls below rank
``KEYLIST_SIZE * KEYLIST_DELIST_RANK_FACTOR`` (hysteresis). Commanders override a proposal with
a note; overrides are audited and the history is kept month by month in the store.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import settings
from core.db.schema import Incident, KeylistEntry
from geo import periods
from planning.actions import month_days

COLUMNS = ["hospital_id", "name", "score", "rank", "listed", "proposal", "reasons", "incidents", "severity",
           "complaints", "trend", "hotspot_z", "previously_listed", "targets", "target_appearances"]


def _shift_month(month: str, k: int) -> str:
    first = pd.Timestamp(month_days(month)[0])
    return (first + pd.DateOffset(months=k)).strftime("%Y-%m")


def _month_range(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    d = month_days(month)
    tz = settings.TIMEZONE
    return pd.Timestamp(d[0]).tz_localize(tz), pd.Timestamp(d[-1] + dt.timedelta(days=1)).tz_localize(tz)


def last_data_day(engine: Engine) -> dt.date | None:
    """The last local date holding an incident (None for an empty store)."""
    from sqlalchemy import func

    with engine.connect() as conn:
        top = conn.execute(select(func.max(Incident.received_at))).scalar()
    return None if top is None else pd.Timestamp(top).date()


def _today() -> dt.date:
    return pd.Timestamp.now(tz=settings.TIMEZONE).date()


def last_complete_month(engine: Engine, *, today: dt.date | None = None) -> str | None:
    """"YYYY-MM" of the newest complete month of data in the store (None when empty)."""
    last = last_data_day(engine)
    return None if last is None else periods.last_complete_month(last, today or _today())


def default_month(engine: Engine, *, today: dt.date | None = None) -> str:
    """The month a new list is for by default: the month after the newest complete month of data."""
    last = last_data_day(engine)
    now = today or _today()
    if last is None:
        return str(pd.Period(now, "M"))
    return periods.month_after_last_complete(last, now)


def assessed_month(month: str, complete_month: str | None) -> str:
    """The month the list of ``month`` is scored on: the month before, or the newest complete one if earlier."""
    before = _shift_month(month, -1)
    if complete_month is None:
        return before
    return min(before, complete_month)


def _hotspot_z(events: pd.DataFrame, hospitals: pd.DataFrame) -> pd.Series:
    """Strongest significant Gi* z within the hospital radius (0 where none)."""
    out = pd.Series(0.0, index=hospitals["hospital_id"].to_numpy())
    located = events[~events["approximate"].astype(bool)] if "approximate" in events else events
    if len(located) < 3:
        return out
    from geo.crs import project
    from geo.hotspots import gi_star_grid

    hot = gi_star_grid(located).hot
    if hot.empty:
        return out
    hx, hy, epsg = project(hospitals["lon"].to_numpy(float), hospitals["lat"].to_numpy(float))
    cx, cy, _ = project(hot["lon"].to_numpy(float), hot["lat"].to_numpy(float), epsg)
    d = np.hypot(hx[:, None] - cx[None, :], hy[:, None] - cy[None, :])
    z = np.where(d <= settings.HOSPITAL_RADIUS_M, hot["z"].to_numpy(float)[None, :], 0.0)
    out[:] = z.max(axis=1)
    return out


def score_hospitals(
    events: pd.DataFrame,
    hospitals: pd.DataFrame,
    *,
    month: str,
    weights: dict[str, float] | None = None,
    severity_weights: dict[str, float] | None = None,
    trend_months: int | None = None,
    assessed: str | None = None,
    targets: pd.DataFrame | None = None,
    targets_weight: float | None = None,
) -> pd.DataFrame:
    """Score every hospital for the list of ``month`` (assessed on the month before).

    Parameters
    ----------
    events
        Incidents (``core.db.load_incidents`` columns) covering the assessed month and the
        ``trend_months`` before it.
    hospitals
        hospital_id, name, lon, lat.
    month
        The month the list is for, "YYYY-MM".
    weights
        Component weights (default ``settings.KEYLIST_WEIGHTS``).
    severity_weights
        Weight per category (default ``settings.SEVERITY_WEIGHTS``; unknown categories weigh 1).
    trend_months
        Baseline months of the trend (default ``settings.KEYLIST_TREND_MONTHS``).
    assessed
        The month scored, "YYYY-MM" (default the month before ``month``; see :func:`assessed_month`).
    targets
        Known targets' activity in the assessed month (``hospital_id, n_targets, n_appearances``, from
        :func:`core.db.persons.target_activity`); None leaves the component out.
    targets_weight
        Weight ``w`` of the targets component (default ``settings.KEYLIST_TARGETS_WEIGHT``): the score is
        ``(1 - w) * (weighted incident components) + w * (appearances scaled 0..1)``, so ``KEYLIST_WEIGHTS``
        keep their meaning as shares of the incident part.

    Returns
    -------
    pandas.DataFrame
        hospital_id, name, incidents, severity, complaints, trend, hotspot_z, targets, target_appearances,
        score, rank.
    """
    weights = dict(settings.KEYLIST_WEIGHTS if weights is None else weights)
    unknown = set(weights) - {"severity", "complaints", "trend", "hotspot"}
    if unknown:
        raise ValueError(f"`weights` has unknown components {sorted(unknown)}; allowed: severity, complaints, trend, hotspot.")
    sev_w = settings.SEVERITY_WEIGHTS if severity_weights is None else severity_weights
    trend_months = settings.KEYLIST_TREND_MONTHS if trend_months is None else int(trend_months)
    assessed = assessed or _shift_month(month, -1)
    a0, a1 = _month_range(assessed)
    b0, _ = _month_range(_shift_month(assessed, -trend_months))
    ev = events[events["hospital_id"].notna()].copy()
    ev["w"] = ev["category"].map(lambda c: float(sev_w.get(c, 1.0))).astype(float)
    cur = ev[(ev["received_at"] >= a0) & (ev["received_at"] < a1)]
    base = ev[(ev["received_at"] >= b0) & (ev["received_at"] < a0)]
    ids = hospitals["hospital_id"]
    calls = cur[cur["source"] == "110"]
    df = pd.DataFrame({"hospital_id": ids.to_numpy(), "name": hospitals["name"].to_numpy()})
    df["incidents"] = df["hospital_id"].map(calls.groupby("hospital_id").size()).fillna(0).astype(int)
    df["severity"] = df["hospital_id"].map(calls.groupby("hospital_id")["w"].sum()).fillna(0.0)
    df["complaints"] = df["hospital_id"].map(cur[cur["source"] == "complaint"].groupby("hospital_id").size()).fillna(0)
    df["complaints"] = df["complaints"].astype(int)
    base_sev = df["hospital_id"].map(base[base["source"] == "110"].groupby("hospital_id")["w"].sum()).fillna(0.0)
    base_sev = base_sev / max(trend_months, 1)
    df["trend"] = (df["severity"] - base_sev) / np.maximum(base_sev, 1.0)
    df["hotspot_z"] = df["hospital_id"].map(_hotspot_z(cur, hospitals)).fillna(0.0).to_numpy(float)

    def unit(s: pd.Series) -> pd.Series:
        m = float(s.max())
        return s / m if m > 0 else s * 0.0

    total_w = sum(weights.values()) or 1.0
    score = (
        weights.get("severity", 0) * unit(df["severity"])
        + weights.get("complaints", 0) * unit(df["complaints"].astype(float))
        + weights.get("trend", 0) * df["trend"].clip(0, 1)
        + weights.get("hotspot", 0) * unit(df["hotspot_z"].clip(lower=0))
    )
    score = score / total_w
    tw = float(settings.KEYLIST_TARGETS_WEIGHT if targets_weight is None else targets_weight)
    if not 0 <= tw <= 1:
        raise ValueError(f"`targets_weight` must be in [0, 1], got {tw}.")
    df["targets"], df["target_appearances"] = 0, 0
    if targets is not None and len(targets):
        t = targets.set_index("hospital_id")
        df["targets"] = df["hospital_id"].map(t["n_targets"]).fillna(0).astype(int)
        df["target_appearances"] = df["hospital_id"].map(t["n_appearances"]).fillna(0).astype(int)
        score = (1 - tw) * score + tw * unit(df["target_appearances"].astype(float))
    df["score"] = (100 * score).round(2)
    df = df.sort_values(["score", "severity", "hospital_id"], ascending=[False, False, True], ignore_index=True)
    df["rank"] = np.arange(1, len(df) + 1)
    return df


def _reason(r, *, assessed: str, trend_months: int) -> str:
    parts = [f"{assessed}月110警情{r.incidents}起（严重度加权{r.severity:.0f}），投诉{r.complaints}件"]
    if abs(r.trend) < 0.05:
        parts.append(f"与前{trend_months}个月月均基本持平")
    else:
        parts.append(f"较前{trend_months}个月月均{'上升' if r.trend > 0 else '下降'}{abs(r.trend):.0%}")
    parts.append(f"周边存在显著热点（Gi* z={r.hotspot_z:.1f}）" if r.hotspot_z > 0 else "周边无显著热点")
    if getattr(r, "targets", 0):
        parts.append(f"已知重点人员{r.targets}人在此活动{r.target_appearances}次")
    parts.append(f"综合得分{r.score:.1f}，排名第{r.rank}")
    return "；".join(parts)


def propose_keylist(
    engine: Engine,
    *,
    month: str,
    size: int | None = None,
    weights: dict[str, float] | None = None,
    severity_weights: dict[str, float] | None = None,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Propose the key-hospital list of ``month``.

    Parameters
    ----------
    engine
        The store.
    month
        "YYYY-MM".
    size
        Hospitals to list (default ``settings.KEYLIST_SIZE``).
    weights, severity_weights
        See :func:`score_hospitals`.
    today
        The current date (default today in ``settings.TIMEZONE``): decides which months are complete.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`: hospital_id, name, score, rank, listed (proposed), proposal
        ('列入' | '销号' | '保持' | ''), reasons (Chinese), the score components and
        previously_listed (final list of the month before, from the history).
    """
    from core.db import load_hospitals, load_incidents
    size = settings.KEYLIST_SIZE if size is None else int(size)
    if size < 0:
        raise ValueError(f"`size` must be ≥ 0, got {size}.")
    trend_months = settings.KEYLIST_TREND_MONTHS
    hospitals = load_hospitals(engine)
    complete = last_complete_month(engine, today=today)
    assessed = assessed_month(month, complete)
    start, _ = _month_range(_shift_month(assessed, -trend_months))
    _, end = _month_range(assessed)
    events = load_incidents(engine, start=start, end=end,
                            columns=["received_at", "source", "category", "lon", "lat", "approximate", "hospital_id"])
    from core.db.persons import target_activity

    a0, a1 = _month_range(assessed)
    df = score_hospitals(events, hospitals, month=month, weights=weights, severity_weights=severity_weights,
                         trend_months=trend_months, assessed=assessed,
                         targets=target_activity(engine, start=a0, end=a1))
    prev = set(final_keylist(engine, month=_shift_month(month, -1), create=False))
    delist_rank = size * settings.KEYLIST_DELIST_RANK_FACTOR
    df["previously_listed"] = df["hospital_id"].isin(prev)
    proposals, listed, reasons = [], [], []
    for r in df.itertuples(index=False):
        base = _reason(r, assessed=assessed, trend_months=trend_months)
        if assessed != _shift_month(month, -1):
            base = f"{_shift_month(month, -1)}月数据尚不完整，按最近完整月{assessed}评估：{base}"
        if r.previously_listed:
            if r.rank <= delist_rank and r.score > 0:
                proposals.append("保持")
                listed.append(True)
                reasons.append(f"{base}；仍在前{int(delist_rank)}名内，建议保持挂账")
            else:
                proposals.append("销号")
                listed.append(False)
                reasons.append(f"{base}；已跌出前{int(delist_rank)}名，治安状况好转，建议销号")
        elif r.rank <= size and r.score > 0:
            proposals.append("列入")
            listed.append(True)
            reasons.append(f"{base}；进入前{size}名，建议列入挂账整治名单")
        else:
            proposals.append("")
            listed.append(False)
            reasons.append(base)
    df["proposal"], df["listed"], df["reasons"] = proposals, listed, reasons
    return df[COLUMNS]


def save_keylist(engine: Engine, proposal: pd.DataFrame, *, month: str) -> None:
    """Store the proposal of ``month`` as its list; commanders' overrides already made are kept."""
    from core.db import session_scope

    now = dt.datetime.now()
    with session_scope(engine) as s:
        existing = {e.hospital_id: e for e in s.scalars(select(KeylistEntry).where(KeylistEntry.month == month))}
        for r in proposal.itertuples(index=False):
            e = existing.get(r.hospital_id) or KeylistEntry(month=month, hospital_id=r.hospital_id)
            e.score, e.rank, e.proposal = float(r.score), int(r.rank), r.proposal
            e.proposed_listed, e.reasons, e.updated_at = bool(r.listed), r.reasons, now
            if not e.overridden:
                e.listed = bool(r.listed)
            s.add(e)


def override_keylist(
    engine: Engine, *, month: str, hospital_id: str, listed: bool, note: str, username: str = ""
) -> None:
    """A commander lists or de-lists ``hospital_id`` for ``month`` against the proposal.

    The note is required (why the commander decided so); the override is stored with the
    month's list and recorded in the audit trail.
    """
    from core.db import session_scope
    from core.trust.audit import record

    if not str(note or "").strip():
        raise ValueError("`note` is required: say why the proposal is overridden.")
    if not list_month_exists(engine, month=month):
        save_keylist(engine, propose_keylist(engine, month=month), month=month)
    with session_scope(engine) as s:
        e = s.scalars(
            select(KeylistEntry).where(KeylistEntry.month == month, KeylistEntry.hospital_id == hospital_id)
        ).first()
        if e is None:
            raise ValueError(f"`hospital_id` {hospital_id!r} is not a known hospital.")
        e.listed, e.overridden, e.override_note, e.override_by = bool(listed), True, note.strip(), username
        e.updated_at = dt.datetime.now()
    record("override", username=username, engine=engine,
           detail=f"重点医院名单 {month} {hospital_id} {'列入' if listed else '移出'}：{note.strip()}")


def list_month_exists(engine: Engine, *, month: str) -> bool:
    """True when a list of ``month`` is stored."""
    with engine.connect() as conn:
        return conn.execute(select(KeylistEntry.id).where(KeylistEntry.month == month).limit(1)).first() is not None


def final_keylist(engine: Engine, *, month: str, create: bool = True) -> list[str]:
    """Hospital ids listed for ``month`` after overrides; proposed and stored first if missing."""
    if not list_month_exists(engine, month=month):
        if not create:
            return []
        save_keylist(engine, propose_keylist(engine, month=month), month=month)
    with engine.connect() as conn:
        rows = conn.execute(
            select(KeylistEntry.hospital_id).where(KeylistEntry.month == month, KeylistEntry.listed.is_(True))
        )
        return sorted(r[0] for r in rows)


def keylist_history(engine: Engine, *, hospital_id: str | None = None) -> pd.DataFrame:
    """Stored lists month by month: month, hospital_id, score, rank, proposal, listed, overridden, note."""
    stmt = select(KeylistEntry).order_by(KeylistEntry.month, KeylistEntry.rank)
    if hospital_id is not None:
        stmt = stmt.where(KeylistEntry.hospital_id == hospital_id)
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    return df.drop(columns=["id"])
