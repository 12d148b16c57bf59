"""Outcomes of actions and daily patrols, the monthly quantified statistics (工作量化统计表), and the
before/after evaluation of actions against control hospitals (WDD, WDQ)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.db.schema import ActionOutcome, DailyOutcome

#: Counted results, in the order of the statistics table.
COUNTS = ("persons_checked", "scalpers_caught", "touts_caught", "warned_away", "cases_handed_over")
#: Chinese column names of :func:`monthly_statistics`.
LABELS = {
    "actions_done": "集中行动（次）",
    "action_officers": "行动警力（人次）",
    "patrol_days": "巡逻上报（天）",
    "visits_done": "完成巡查（次）",
    "persons_checked": "盘查人员（人）",
    "scalpers_caught": "抓获号贩子（人）",
    "touts_caught": "抓获医托（人）",
    "warned_away": "劝离（人）",
    "cases_handed_over": "移交案件（起）",
}


def _counts(values: dict) -> dict:
    out = {}
    for k in COUNTS:
        v = values.get(k, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"`{k}` must be a non-negative integer, got {v!r}.")
        out[k] = v
    return out


def _month(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def record_action_outcome(
    engine: Engine, *, hospital_id: str, date: dt.date, officers: int = 0, note: str = "", username: str = "",
    **counts: int,
) -> None:
    """Record the results of the concentrated action at ``hospital_id`` on ``date``.

    ``counts`` are the keys of :data:`COUNTS` (persons checked, scalpers and touts caught,
    warned away, cases handed over).
    """
    unknown = set(counts) - set(COUNTS)
    if unknown:
        raise ValueError(f"Unknown result fields {sorted(unknown)}; allowed: {list(COUNTS)}.")
    from core.db import session_scope

    d = pd.Timestamp(date).date()
    with session_scope(engine) as s:
        s.add(ActionOutcome(month=_month(d), hospital_id=hospital_id, date=d, officers=int(officers), note=note,
                            username=username, at=dt.datetime.now(), **_counts(counts)))


def record_daily_outcome(
    engine: Engine, *, hospital_id: str, date: dt.date, visits_done: int = 0, note: str = "", username: str = "",
    **counts: int,
) -> None:
    """Record (or replace) one day's patrol results at ``hospital_id``."""
    unknown = set(counts) - set(COUNTS)
    if unknown:
        raise ValueError(f"Unknown result fields {sorted(unknown)}; allowed: {list(COUNTS)}.")
    from core.db import session_scope

    d = pd.Timestamp(date).date()
    vals = _counts(counts)
    with session_scope(engine) as s:
        row = s.scalars(select(DailyOutcome).where(DailyOutcome.date == d, DailyOutcome.hospital_id == hospital_id)).first()
        row = row or DailyOutcome(hospital_id=hospital_id, date=d)
        row.visits_done, row.note, row.username, row.at = int(visits_done), note, username, dt.datetime.now()
        for k, v in vals.items():
            setattr(row, k, v)
        s.add(row)


def monthly_statistics(engine: Engine, *, month: str) -> pd.DataFrame:
    """The month's quantified statistics by hospital (English columns; :data:`LABELS` gives Chinese).

    Returns
    -------
    pandas.DataFrame
        hospital_id, name, actions_done, action_officers, patrol_days, visits_done and the
        :data:`COUNTS` summed over actions and days; a final row ``合计`` (hospital_id None).
    """
    from core.db import load_hospitals
    from planning.actions import month_days

    days = month_days(month)
    with engine.connect() as conn:
        acts = pd.read_sql(select(ActionOutcome).where(ActionOutcome.month == month), conn)
        daily = pd.read_sql(
            select(DailyOutcome).where(DailyOutcome.date >= days[0], DailyOutcome.date <= days[-1]), conn
        )
    cols = ["hospital_id", "actions_done", "action_officers", "patrol_days", "visits_done", *COUNTS]
    if acts.empty and daily.empty:
        return pd.DataFrame(columns=["hospital_id", "name", *cols[1:]])
    a = acts.groupby("hospital_id").agg(actions_done=("id", "size"), action_officers=("officers", "sum"),
                                        **{k: (k, "sum") for k in COUNTS})
    d = daily.groupby("hospital_id").agg(patrol_days=("id", "size"), visits_done=("visits_done", "sum"),
                                         **{k: (k, "sum") for k in COUNTS})
    out = a.add(d, fill_value=0).fillna(0).astype(int).reset_index()
    for c in cols:
        if c not in out:
            out[c] = 0
    names = load_hospitals(engine).set_index("hospital_id")["name"]
    out.insert(1, "name", out["hospital_id"].map(names))
    out = out[["hospital_id", "name", *cols[1:]]].sort_values("hospital_id", ignore_index=True)
    total = out[cols[1:]].sum().to_dict()
    out = pd.concat([out, pd.DataFrame([{"hospital_id": None, "name": "合计", **total}])], ignore_index=True)
    return out


# --------------------------------------------------------------------------- before/after evaluation


@dataclass
class ActionEvaluation:
    """Before/after evaluation of concentrated actions against control hospitals.

    Attributes
    ----------
    table
        One row per action: hospital_id, date, t_before, t_after (incidents within the hospital
        radius), d_before, d_after (buffer ring), c_before, c_after (mean per control hospital),
        wdd, wdd_z, wdd_p, wdq, complete (after window fully observed), verdict (Chinese).
    params
        window_days, radius_m, buffer_m, n_controls, source (where the actions came from).
    """

    table: pd.DataFrame
    params: dict = field(default_factory=dict)


def stored_actions(engine: Engine, *, month: str) -> pd.DataFrame:
    """Actions (hospital_id, start, end, officers) of the newest stored plan of ``month``."""
    from core.db.schema import PlanAction, PlanRecord
    with engine.connect() as conn:
        pid = conn.execute(
            select(PlanRecord.id).where(PlanRecord.month == month).order_by(PlanRecord.id.desc()).limit(1)
        ).scalar()
        if pid is None:
            return pd.DataFrame(columns=["hospital_id", "start", "end", "officers"])
        t = PlanAction.__table__
        return pd.read_sql(select(t.c.hospital_id, t.c.start, t.c.end, t.c.officers).where(t.c.plan_id == pid), conn)


def evaluate_actions(
    engine: Engine,
    *,
    month: str,
    actions: pd.DataFrame | None = None,
    window_days: int = 28,
    buffer_m: float | None = None,
) -> ActionEvaluation:
    """Weighted displacement difference and quotient of each concentrated action.

    For each action, incidents are counted ``window_days`` before the action day and
    ``window_days`` from the day after it in the target (the hospital's radius), in a buffer
    ring (radius .. ``buffer_m``) and at control hospitals (those without an action that month;
    mean per hospital). ``WDD = (T1 - T0) - (C1 - C0)`` with a Poisson z-test
    (Wheeler & Ratcliffe 2018); ``WDQ = (D1/C1 - D0/C0) / (T1/C1 - T0/C0)``
    (Bowers & Johnson 2003): > 0 diffusion of benefits to the buffer, < 0 displacement.

    Parameters
    ----------
    engine
        The store.
    month
        Month of the actions; they come from the newest stored plan unless ``actions`` is given
        (on the demo store without a stored plan: the demo's planted past actions).
    actions
        hospital_id, start (optional override of the stored plan).
    window_days
        Length of the before and the after window.
    buffer_m
        Outer radius of the buffer ring (default twice ``settings.HOSPITAL_RADIUS_M``).
    """
    import numpy as np
    from scipy import stats

    from core import settings
    from core.db import load_hospitals, load_incidents
    from geo.crs import project

    if window_days < 1:
        raise ValueError(f"`window_days` must be ≥ 1, got {window_days}.")
    radius = settings.HOSPITAL_RADIUS_M
    buffer_m = 2 * radius if buffer_m is None else float(buffer_m)
    if buffer_m <= radius:
        raise ValueError(f"`buffer_m` must exceed the hospital radius {radius} m, got {buffer_m}.")
    source = "给定行动"
    if actions is None:
        acts, source = stored_actions(engine, month=month), "已存档方案"
        if acts.empty:
            acts, source = demo_actions(engine, month=month), "演示数据（合成）的历史行动"
    else:
        acts = actions
    if acts is None or acts.empty:
        raise ValueError(f"{month} 没有已批准（已存档）的集中行动方案，无法评估。")
    tz = settings.TIMEZONE
    starts = pd.to_datetime(acts["start"])
    starts = starts.dt.tz_localize(tz) if starts.dt.tz is None else starts.dt.tz_convert(tz)
    days = starts.dt.normalize()
    win = pd.Timedelta(days=window_days)
    hospitals = load_hospitals(engine)
    ev = load_incidents(engine, start=days.min() - win, end=days.max() + pd.Timedelta(days=1) + win,
                        columns=["received_at", "lon", "lat", "approximate", "hospital_id"])
    latest = ev["received_at"].max() if len(ev) else None
    treated = set(acts["hospital_id"])
    controls = [h for h in hospitals["hospital_id"] if h not in treated]
    hx, hy, epsg = project(hospitals["lon"].to_numpy(float), hospitals["lat"].to_numpy(float))
    ex, ey, _ = project(ev["lon"].to_numpy(float), ev["lat"].to_numpy(float), epsg) if len(ev) else ([], [], 0)
    hpos = {h: i for i, h in enumerate(hospitals["hospital_id"])}
    t = ev["received_at"]
    rows = []
    for hid, day in zip(acts["hospital_id"], days, strict=True):
        b0, b1, a0, a1 = day - win, day, day + pd.Timedelta(days=1), day + pd.Timedelta(days=1) + win
        before, after = ((t >= b0) & (t < b1)).to_numpy(), ((t >= a0) & (t < a1)).to_numpy()
        own = (ev["hospital_id"] == hid).to_numpy()
        i = hpos[hid]
        dist = np.hypot(np.asarray(ex) - hx[i], np.asarray(ey) - hy[i])
        ring = (dist > radius) & (dist <= buffer_m) & ~ev["approximate"].to_numpy(bool)
        ctrl = ev["hospital_id"].isin(controls).to_numpy()
        k = max(len(controls), 1)
        T0, T1 = int((own & before).sum()), int((own & after).sum())
        D0, D1 = int((ring & before).sum()), int((ring & after).sum())
        C0, C1 = (ctrl & before).sum() / k, (ctrl & after).sum() / k
        wdd = (T1 - T0) - (C1 - C0)
        var = T1 + T0 + (C1 + C0) / k
        z = wdd / np.sqrt(var) if var > 0 else 0.0
        p = float(2 * stats.norm.sf(abs(z)))
        wdq = np.nan
        if C0 > 0 and C1 > 0 and (T1 / C1 - T0 / C0) != 0:
            wdq = (D1 / C1 - D0 / C0) / (T1 / C1 - T0 / C0)
        complete = latest is not None and latest >= a1 - pd.Timedelta(days=1)
        if z <= -1.96:
            verdict = "行动后警情显著下降"
        elif z >= 1.96:
            verdict = "行动后警情显著上升"
        else:
            verdict = "无显著变化"
        if not complete:
            verdict += "（观察期未满）"
        rows.append({"hospital_id": hid, "date": day.date(), "t_before": T0, "t_after": T1, "d_before": D0,
                     "d_after": D1, "c_before": round(float(C0), 3), "c_after": round(float(C1), 3),
                     "wdd": round(float(wdd), 3), "wdd_z": round(float(z), 3), "wdd_p": round(p, 4),
                     "wdq": None if not np.isfinite(wdq) else round(float(wdq), 3), "complete": bool(complete),
                     "verdict": verdict})
    return ActionEvaluation(pd.DataFrame(rows), {"window_days": window_days, "radius_m": radius,
                                                 "buffer_m": buffer_m, "n_controls": len(controls),
                                                 "source": source})


def demo_actions(engine: Engine, *, month: str) -> pd.DataFrame:
    """Past actions the synthetic demo planted (meta ``demo_actions``) that start in ``month``."""
    import io

    from core.db import get_meta, is_demo

    raw = get_meta("demo_actions", engine) if is_demo(engine) else None
    if not raw:
        return pd.DataFrame(columns=["hospital_id", "start", "end", "officers"])
    df = pd.read_json(io.StringIO(raw), orient="records")
    if df.empty:
        return pd.DataFrame(columns=["hospital_id", "start", "end", "officers"])
    start = pd.to_datetime(df["start"].astype(str))
    return df[start.dt.strftime("%Y-%m") == month].reset_index(drop=True)
