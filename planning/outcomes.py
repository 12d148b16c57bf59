"""Outcomes of actions and daily patrols, the monthly quantified statistics (工作量化统计表), and the
before/after evaluation of actions against control hospitals (WDD, WDQ).

Commanders record each concentrated action's results with :func:`record_action_result`
(validated, audited as ``action_result``, editable by its author or a commander within
``settings.RECORD_EDIT_HOURS``); stationed officers' visit check-ins are in
:mod:`planning.checkins`. An action is evaluated only once its after-window has passed; until then
its verdict is 待评估（观察期至 …）. Only approved plans are evaluated."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import settings
from core.db.schema import ActionOutcome, ActionResult, DailyOutcome, VisitCheckin
from core.trust.access import AccessScope, require

#: Counted results, in the order of the statistics table.
COUNTS = ("persons_checked", "scalpers_caught", "touts_caught", "warned_away", "cases_handed_over")
#: Chinese column names of :func:`monthly_statistics`.
LABELS = {
    "actions_done": "集中行动（次）",
    "action_officers": "行动警力（人次）",
    "patrol_days": "巡逻上报（天）",
    "visits_done": "完成巡查（次）",
    "visits_missed": "未完成巡查（次）",
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


#: Roles that record action results.
RESULT_ROLES = ("commander",)


def record_action_result(
    engine: Engine,
    *,
    scope: AccessScope,
    hospital_id: str,
    date: dt.date,
    units: dict[str, int] | None = None,
    officers: int | None = None,
    note: str = "",
    plan_id: int | None = None,
    now: dt.datetime | None = None,
    **counts: int,
) -> int:
    """Record (or, within the edit window, change) the results of one concentrated action.

    Parameters
    ----------
    scope
        A commander.
    hospital_id, date
        The action (one per hospital and day).
    units
        unit_id -> officers of the units that took part; ``officers`` defaults to their sum.
    counts
        Keys of :data:`COUNTS` (persons checked, scalpers and touts caught, warned away, cases
        handed over).

    Raises
    ------
    PermissionError
        Not a commander, or a change after ``settings.RECORD_EDIT_HOURS`` / by another user.
    ValueError
        Unknown hospital or unit, a future date, negative or non-integer counts (Chinese message).
    """
    import json

    from core.db import load_hospitals, load_units, session_scope
    from core.trust.audit import record
    from planning.checkins import may_edit

    require(scope, roles=RESULT_ROLES)
    unknown = set(counts) - set(COUNTS)
    if unknown:
        raise ValueError(f"未知的成果字段：{sorted(unknown)}。")
    vals = _counts(counts)
    now = now or pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).floor("s").to_pydatetime()
    d = pd.Timestamp(date).date()
    if d > now.date():
        raise ValueError(f"行动日期 {d} 尚未到来，不能登记成果。")
    names = load_hospitals(engine).set_index("hospital_id")["name"]
    if hospital_id not in names.index:
        raise ValueError(f"未知医院 {hospital_id!r}。")
    unit_tab = load_units(engine).set_index("unit_id")
    units = dict(units or {})
    bad = sorted(set(units) - set(unit_tab.index))
    if bad:
        raise ValueError(f"未知参战单位：{bad}。")
    for u, n in units.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"单位 {u} 的警力应为非负整数，收到 {n!r}。")
    total = sum(units.values()) if officers is None else officers
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"警力应为非负整数，收到 {total!r}。")
    if units and total < sum(units.values()):
        raise ValueError(f"总警力 {total} 少于各单位警力之和 {sum(units.values())}。")
    unit_json = json.dumps([{"unit_id": u, "name": str(unit_tab.loc[u, "name"]), "officers": n}
                            for u, n in units.items()], ensure_ascii=False)
    with session_scope(engine) as s:
        row = s.scalars(select(ActionResult).where(ActionResult.hospital_id == hospital_id,
                                                   ActionResult.date == d)).first()
        if row is not None:
            if not may_edit(row.username, row.at, scope, now=now):
                raise PermissionError(f"行动成果只能由填报人或指挥员在 {settings.RECORD_EDIT_HOURS} 小时内修改。")
            row.updated_at = now
            verb = "修改"
        else:
            row = ActionResult(hospital_id=hospital_id, date=d, username=scope.username, at=now)
            s.add(row)
            verb = "登记"
        row.plan_id, row.officers, row.units, row.note = plan_id, int(total), unit_json, str(note or "")[:1000]
        for k, v in vals.items():
            setattr(row, k, v)
        s.flush()
        rid = int(row.id)
    record("action_result", username=scope.username, engine=engine,
           detail=f"{verb} {names[hospital_id]} {d} 集中行动成果：警力{total}人，"
           + "，".join(f"{LABELS[k]}{v}" for k, v in vals.items()))
    return rid


def action_results(engine: Engine, *, start: dt.date, end: dt.date, hospital_ids=None) -> pd.DataFrame:
    """Recorded action results dated in [start, end] (inclusive), with their units as a list."""
    import json

    t = ActionResult.__table__
    q = select(t).where(t.c.date >= start, t.c.date <= end)
    if hospital_ids is not None:
        q = q.where(t.c.hospital_id.in_(list(hospital_ids)))
    with engine.connect() as conn:
        df = pd.read_sql(q.order_by(t.c.date, t.c.hospital_id), conn)
    df["units"] = df["units"].map(lambda x: json.loads(x) if x else [])
    return df


def statistics(engine: Engine, *, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Quantified statistics by hospital over [start, end] (inclusive) from every recorded entry.

    Sums the commanders' action results (and outcomes recorded before them), the officers'
    visit check-ins and any daily patrol reports. Columns as :func:`monthly_statistics`.
    """
    from core.db import load_hospitals

    with engine.connect() as conn:
        legacy = pd.read_sql(select(ActionOutcome).where(ActionOutcome.date >= start, ActionOutcome.date <= end), conn)
        results = pd.read_sql(select(ActionResult).where(ActionResult.date >= start, ActionResult.date <= end), conn)
        daily = pd.read_sql(select(DailyOutcome).where(DailyOutcome.date >= start, DailyOutcome.date <= end), conn)
        t = VisitCheckin.__table__
        chk = pd.read_sql(select(t.c.hospital_id, t.c.status, *[t.c[k] for k in COUNTS]).where(
            t.c.planned_start >= dt.datetime.combine(start, dt.time()),
            t.c.planned_start < dt.datetime.combine(end + dt.timedelta(days=1), dt.time())), conn)
    cols = ["hospital_id", "actions_done", "action_officers", "patrol_days", "visits_done", "visits_missed", *COUNTS]
    acts = pd.concat([x for x in (legacy, results) if len(x)], ignore_index=True) if len(legacy) or len(results) \
        else legacy
    if acts.empty and daily.empty and chk.empty:
        return pd.DataFrame(columns=["hospital_id", "name", *cols[1:]])
    parts = []
    if len(acts):
        parts.append(acts.groupby("hospital_id").agg(actions_done=("id", "size"), action_officers=("officers", "sum"),
                                                     **{k: (k, "sum") for k in COUNTS}))
    if len(daily):
        parts.append(daily.groupby("hospital_id").agg(patrol_days=("id", "size"), visits_done=("visits_done", "sum"),
                                                      **{k: (k, "sum") for k in COUNTS}))
    if len(chk):
        chk = chk.assign(done=(chk["status"] == "done").astype(int), missed=(chk["status"] == "missed").astype(int))
        parts.append(chk.groupby("hospital_id").agg(visits_done=("done", "sum"), visits_missed=("missed", "sum"),
                                                    **{k: (k, "sum") for k in COUNTS}))
    out = parts[0]
    for p in parts[1:]:
        out = out.add(p, fill_value=0)
    out = out.fillna(0).astype(int).reset_index()
    for c in cols:
        if c not in out:
            out[c] = 0
    names = load_hospitals(engine).set_index("hospital_id")["name"]
    out.insert(1, "name", out["hospital_id"].map(names))
    out = out[["hospital_id", "name", *cols[1:]]].sort_values("hospital_id", ignore_index=True)
    total = out[cols[1:]].sum().to_dict()
    return pd.concat([out, pd.DataFrame([{"hospital_id": None, "name": "合计", **total}])], ignore_index=True)


def monthly_statistics(engine: Engine, *, month: str) -> pd.DataFrame:
    """The month's quantified statistics by hospital (English columns; :data:`LABELS` gives Chinese).

    Returns
    -------
    pandas.DataFrame
        hospital_id, name, actions_done, action_officers, patrol_days, visits_done,
        visits_missed and the :data:`COUNTS` summed over action results, check-ins and daily
        reports (:func:`statistics`); a final row ``合计`` (hospital_id None).
    """
    from planning.actions import month_days

    days = month_days(month)
    return statistics(engine, start=days[0], end=days[-1])


# --------------------------------------------------------------------------- before/after evaluation


@dataclass
class ActionEvaluation:
    """Before/after evaluation of concentrated actions against control hospitals.

    Attributes
    ----------
    table
        One row per action: hospital_id, date, t_before, t_after (incidents within the hospital
        radius), d_before, d_after (buffer ring), c_before, c_after (mean per control hospital),
        wdd, wdd_z, wdd_p, wdq, complete (after window fully observed), observe_until (last day
        of the after-window), verdict (Chinese). While the after-window is open, every after
        figure is None and the verdict is 待评估（观察期至 YYYY-MM-DD）.
    params
        window_days, radius_m, buffer_m, n_controls, source (where the actions came from).
    """

    table: pd.DataFrame
    params: dict = field(default_factory=dict)


def stored_actions(engine: Engine, *, month: str) -> pd.DataFrame:
    """Actions (hospital_id, start, end, officers) of the approved plan of ``month`` (drafts never count)."""
    from core.db.schema import PlanAction
    from planning.lifecycle import approved_plan_id

    pid = approved_plan_id(engine, month)
    if pid is None:
        return pd.DataFrame(columns=["hospital_id", "start", "end", "officers"])
    t = PlanAction.__table__
    with engine.connect() as conn:
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
        raise ValueError(f"{month} 没有已批准的集中行动方案，无法评估。")
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
        # Measurable only once the whole after-window lies in the data (and in the past).
        now = pd.Timestamp.now(tz=tz)
        complete = latest is not None and latest >= a1 - pd.Timedelta(days=1) and now >= a1
        until = (a1 - pd.Timedelta(days=1)).date()
        row = {"hospital_id": hid, "date": day.date(), "t_before": T0, "d_before": D0,
               "c_before": round(float(C0), 3), "observe_until": until, "complete": bool(complete)}
        if not complete:
            rows.append(row | {"t_after": None, "d_after": None, "c_after": None, "wdd": None, "wdd_z": None,
                               "wdd_p": None, "wdq": None, "verdict": f"待评估（观察期至 {until:%Y-%m-%d}）"})
            continue
        if z <= -1.96:
            verdict = "行动后警情显著下降"
        elif z >= 1.96:
            verdict = "行动后警情显著上升"
        else:
            verdict = "无显著变化"
        rows.append(row | {"t_after": T1, "d_after": D1, "c_after": round(float(C1), 3), "wdd": round(float(wdd), 3),
                           "wdd_z": round(float(z), 3), "wdd_p": round(p, 4),
                           "wdq": None if not np.isfinite(wdq) else round(float(wdq), 3), "verdict": verdict})
    cols = ["hospital_id", "date", "t_before", "t_after", "d_before", "d_after", "c_before", "c_after", "wdd", "wdd_z",
            "wdd_p", "wdq", "complete", "observe_until", "verdict"]
    return ActionEvaluation(pd.DataFrame(rows, columns=cols), {"window_days": window_days, "radius_m": radius,
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
