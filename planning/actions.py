"""Monthly concentrated actions (集中整治行动): one per listed hospital, solved as a MILP.

For every listed hospital the solver picks the day of the month, the start hour and the
duration of its action and the officers each eligible unit sends: the hospital's stationed
team, the 派出所 of its district and the city 治安 reserve. Constraints:

* exactly one action per listed hospital in the month (``one_action``);
* the officers a unit sends to all actions of a day never exceed what it can release that day,
  each released officer serving one action, so nobody is in two places at once
  (``availability``);
* officers per action between a minimum and a maximum that grow with the hospital's risk
  (``min_officers``);
* no action on blocked dates (``blocked``); optionally every action on one city-wide day
  (``unified``); locked actions keep their date, time and forces (``locks``).

The objective maximises the forecast risk the actions cover, plus a small reward per officer
that grows with the hospital's risk and is lower for forces drawn from farther away (station,
then reserve). Because nothing links a hospital's choice of hours to other hospitals once its
day is fixed, the best window per (hospital, day) is computed exactly beforehand and the MILP
chooses among days (dominated windows are pruned, not approximated).

Solved with HiGHS through :func:`scipy.optimize.milp`. When no plan exists, every constraint
group is relaxed in turn and the groups whose relaxation restores feasibility are reported in
plain Chinese.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from core import settings

#: Constraint groups that can be relaxed by the infeasibility diagnosis, with Chinese labels.
CONSTRAINT_GROUPS: dict[str, str] = {
    "availability": "各单位每日可出动警力上限（每名民警同一时间只能在一处）",
    "min_officers": "每次行动的最少警力（按风险确定）",
    "blocked": "屏蔽日期（节假日、重大活动）",
    "unified": "全市统一行动日",
    "locks": "已锁定的行动",
}
#: Chinese names of unit kinds.
UNIT_KIND_LABELS = {"stationed": "驻院警力", "station": "属地派出所", "reserve": "治安支队机动力量"}
#: Reward per officer is reduced by this amount for forces from farther away.
_KIND_COST = {"stationed": 0.0, "station": 0.01, "reserve": 0.02}
_OFFICER_REWARD = 0.05
_DISP = False


@dataclass(frozen=True)
class ActionLock:
    """A commander's lock on one hospital's action.

    Parameters
    ----------
    hospital_id
        The hospital whose action is locked.
    start
        Fixed start (local time); None keeps the solver's choice of time.
    hours
        Fixed duration in hours (with ``start``).
    forces
        Fixed officers per unit id; None leaves forces to the solver.
    """

    hospital_id: str
    start: pd.Timestamp | None = None
    hours: int | None = None
    forces: Mapping[str, int] | None = None


@dataclass
class ActionPlanResult:
    """The solved monthly action plan and the solver's report.

    Attributes
    ----------
    status
        ``optimal``, ``feasible`` (stopped at the time limit with a plan) or ``infeasible``.
    actions
        One row per hospital: hospital_id, date, start, end (tz-aware), hours, covered_risk,
        officers, min_officers, max_officers, locked.
    forces
        One row per (hospital, unit) sending officers: hospital_id, unit_id, kind, officers.
    objective, gap, solve_time_s
        Objective value, relative MIP gap and wall time of the solve.
    message
        Chinese summary for the user.
    diagnosis
        For an infeasible plan, Chinese sentences naming the constraints that cause it.
    """

    status: str
    actions: pd.DataFrame
    forces: pd.DataFrame
    objective: float = float("nan")
    gap: float = float("nan")
    solve_time_s: float = 0.0
    message: str = ""
    diagnosis: list[str] = field(default_factory=list)
    n_variables: int = 0
    n_constraints: int = 0

    @property
    def feasible(self) -> bool:
        """True when a plan was found."""
        return self.status in {"optimal", "feasible"}


# --------------------------------------------------------------------------- inputs


def month_days(month: str) -> list[dt.date]:
    """All dates of ``month`` ("YYYY-MM")."""
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise ValueError(f"`month` must look like 2026-11, got {month!r}.") from exc
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return [first + dt.timedelta(days=i) for i in range((nxt - first).days)]


def daily_hourly_risk(weekday_risk: pd.DataFrame, *, month: str) -> pd.DataFrame:
    """Spread a month's weekday-hour risk (``geo.forecast.hospital_hour_risk``) over the dates.

    Parameters
    ----------
    weekday_risk
        Columns hospital_id, weekday (0=Monday), hour, risk = expected incidents in that
        weekday-hour over the whole month.
    month
        The planned month.

    Returns
    -------
    pandas.DataFrame
        Columns hospital_id, date, hour, risk (expected incidents in that hour of that date).
    """
    missing = {"hospital_id", "weekday", "hour", "risk"} - set(weekday_risk.columns)
    if missing:
        raise ValueError(f"`weekday_risk` lacks columns {sorted(missing)}.")
    days = pd.DataFrame({"date": month_days(month)})
    days["weekday"] = [d.weekday() for d in days["date"]]
    n_wd = days.groupby("weekday").size().rename("n_wd")
    out = days.merge(weekday_risk[["hospital_id", "weekday", "hour", "risk"]], on="weekday")
    out = out.join(n_wd, on="weekday")
    out["risk"] = out["risk"].astype(float) / out["n_wd"]
    return out[["hospital_id", "date", "hour", "risk"]].sort_values(["hospital_id", "date", "hour"], ignore_index=True)


def add_target_peaks(
    hourly: pd.DataFrame,
    targets: pd.DataFrame | None,
    *,
    weight: float | None = None,
) -> pd.DataFrame:
    """Raise the hourly risk of each hospital in the hours where its known targets peak.

    Each hospital's risk of the hour holding a target's peak centre grows by ``weight`` × the hospital's mean
    hourly risk × the share of its targets peaking then, so the best windows (:func:`best_windows`) move towards
    the hours the targets are there without letting a few persons outweigh the incident forecast.

    Parameters
    ----------
    hourly
        hospital_id, date, hour, risk (:func:`daily_hourly_risk`).
    targets
        hospital_id, peak_centers_min (list of minutes of day per hospital; :func:`core.db.persons.hospital_targets`).
    weight
        Default ``settings.ACTION_TARGETS_WEIGHT``; 0 returns ``hourly`` unchanged.
    """
    w = float(settings.ACTION_TARGETS_WEIGHT if weight is None else weight)
    if targets is None or not len(targets) or w <= 0 or hourly.empty:
        return hourly
    out = hourly.copy()
    mean = out.groupby("hospital_id")["risk"].transform("mean")
    bump = np.zeros(len(out))
    for r in targets.itertuples(index=False):
        centres = [c for c in (r.peak_centers_min or []) if c == c]
        if not centres:
            continue
        hours = np.bincount((np.asarray(centres) // 60).astype(int) % 24, minlength=24) / len(centres)
        sel = (out["hospital_id"] == r.hospital_id).to_numpy()
        bump[sel] = hours[out.loc[sel, "hour"].to_numpy(int)]
    out["risk"] = out["risk"] + w * mean.to_numpy() * bump
    return out


def best_windows(
    hourly: pd.DataFrame,
    *,
    durations: Iterable[int] | None = None,
    day_start_h: int | None = None,
    day_end_h: int | None = None,
) -> pd.DataFrame:
    """Best action window per (hospital, date).

    A window's value is the risk it covers minus, for every hour, the hospital's mean hourly
    risk over the operating day: an extra hour is worth adding only when it is riskier than
    average, so actions sit on the peaks and are no longer than the peak.

    Returns
    -------
    pandas.DataFrame
        Columns hospital_id, date, start_h, hours, covered_risk, value.
    """
    durations = tuple(durations or settings.ACTION_DURATIONS_H)
    h0 = settings.ACTION_DAY_START_H if day_start_h is None else day_start_h
    h1 = settings.ACTION_DAY_END_H if day_end_h is None else day_end_h
    if h1 - h0 < min(durations):
        raise ValueError(f"The action day {h0}-{h1} h is shorter than the shortest duration {min(durations)} h.")
    rows = []
    for (hid, date), g in hourly.groupby(["hospital_id", "date"], sort=True):
        r = np.zeros(24)
        r[g["hour"].to_numpy(int)] = g["risk"].to_numpy(float)
        day = r[h0:h1]
        rows.append((hid, date, day))
    if not rows:
        return pd.DataFrame(columns=["hospital_id", "date", "start_h", "hours", "covered_risk", "value"])
    # Mean over the month per hospital, so one quiet day does not make every hour "peak".
    per_h: dict[str, list[np.ndarray]] = {}
    for hid, _, day in rows:
        per_h.setdefault(hid, []).append(day)
    mean_h = {hid: float(np.mean(np.stack(v))) for hid, v in per_h.items()}
    out = []
    for hid, date, day in rows:
        csum = np.concatenate([[0.0], np.cumsum(day)])
        best = None
        for length in durations:
            cov = csum[length:] - csum[:-length]
            val = cov - length * mean_h[hid]
            k = int(np.argmax(val))
            if best is None or val[k] > best[3] + 1e-12:
                best = (h0 + k, length, float(cov[k]), float(val[k]))
        out.append((hid, date, *best))
    return pd.DataFrame(out, columns=["hospital_id", "date", "start_h", "hours", "covered_risk", "value"])


def officer_bounds(risk_level: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Minimum and maximum officers per action, linear in the hospital's risk level (0..1)."""
    lo_min, hi_min = settings.ACTION_MIN_OFFICERS
    lo_max, hi_max = settings.ACTION_MAX_OFFICERS
    lvl = risk_level.clip(0, 1)
    mn = np.ceil(lo_min + (hi_min - lo_min) * lvl).astype(int)
    mx = np.floor(lo_max + (hi_max - lo_max) * lvl).astype(int)
    return mn, np.maximum(mx, mn)


def eligible_units(hospitals: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """(hospital_id, unit_id, kind) pairs: own stationed team, district stations, city reserve."""
    pairs = []
    for h in hospitals.itertuples(index=False):
        for u in units.itertuples(index=False):
            if (
                (u.kind == "stationed" and u.hospital_id == h.hospital_id)
                or (u.kind == "station" and u.district == h.district and h.district)
                or u.kind == "reserve"
            ):
                pairs.append((h.hospital_id, u.unit_id, u.kind))
    return pd.DataFrame(pairs, columns=["hospital_id", "unit_id", "kind"])


# --------------------------------------------------------------------------- solver


def _local(date: dt.date, hour: float) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(date, dt.time(0))).tz_localize(settings.TIMEZONE) + pd.Timedelta(
        hours=hour
    )


def solve_actions(
    hospitals: pd.DataFrame,
    units: pd.DataFrame,
    hourly_risk: pd.DataFrame,
    *,
    month: str,
    blocked_dates: Iterable[dt.date] = (),
    unified_day: bool | dt.date = False,
    availability: pd.DataFrame | None = None,
    locks: Iterable[ActionLock] = (),
    previous: pd.DataFrame | None = None,
    previous_forces: pd.DataFrame | None = None,
    mip_gap: float | None = None,
    time_limit_s: float | None = None,
    diagnose: bool = True,
) -> ActionPlanResult:
    """Plan one concentrated action per listed hospital for ``month``.

    Parameters
    ----------
    hospitals
        The listed hospitals: hospital_id, district (and optionally name).
    units
        Police units (``core.db.load_units``): unit_id, kind, district, hospital_id,
        available_per_day.
    hourly_risk
        Forecast risk per hospital, date and hour (:func:`daily_hourly_risk`).
    month
        "YYYY-MM".
    blocked_dates
        Dates on which no action may take place.
    unified_day
        False: each hospital its own day. True: the solver picks one city-wide day for all.
        A date: every action on that date.
    availability
        Optional overrides of officers a unit can release on a date: unit_id, date, available.
    locks
        Actions fixed by a commander (:class:`ActionLock`).
    previous, previous_forces
        An earlier plan's ``actions`` and ``forces``: when given, re-planning keeps their days
        and forces wherever the constraints allow (minimal change comes first, then risk).
    mip_gap, time_limit_s
        Solver stopping rules (defaults ``settings.ACTION_MIP_GAP``, ``ACTION_TIME_LIMIT_S``).
    diagnose
        On infeasibility, relax the constraint groups one at a time to name the culprit.
    """
    need_h = {"hospital_id", "district"} - set(hospitals.columns)
    need_u = {"unit_id", "kind", "district", "hospital_id", "available_per_day"} - set(units.columns)
    if need_h or need_u:
        raise ValueError(f"`hospitals` lacks {sorted(need_h)} / `units` lacks {sorted(need_u)}.")
    days = month_days(month)
    blocked = {pd.Timestamp(d).date() for d in blocked_dates}
    if isinstance(unified_day, dt.date) and unified_day not in days:
        raise ValueError(f"`unified_day` {unified_day} is not in month {month}.")
    locks = list(locks)
    bad = [lk.hospital_id for lk in locks if lk.hospital_id not in set(hospitals["hospital_id"])]
    if bad:
        raise ValueError(f"`locks` name hospitals that are not listed: {bad}.")
    ctx = _Context(
        hospitals.reset_index(drop=True), units, hourly_risk, days, blocked, unified_day, availability,
        {lk.hospital_id: lk for lk in locks}, previous, previous_forces,
    )
    res = ctx.solve(set(), mip_gap=mip_gap, time_limit_s=time_limit_s)
    if not res.feasible and diagnose:
        res.diagnosis = ctx.diagnose(time_limit_s=time_limit_s)
        res.message = "无法排出满足全部约束的集中行动方案。" + ("".join(res.diagnosis) if res.diagnosis else "")
    return res


class _Context:
    """Inputs prepared once, so the diagnosis can rebuild the model with groups relaxed."""

    def __init__(self, hospitals, units, hourly_risk, days, blocked, unified_day, availability, locks, prev, prev_f):
        self.h = hospitals
        self.units = units.reset_index(drop=True)
        self.days = days
        self.blocked = blocked
        self.unified_day = unified_day
        self.locks = locks
        self.prev = prev
        self.prev_f = prev_f
        hids = list(self.h["hospital_id"])
        self.win = best_windows(hourly_risk[hourly_risk["hospital_id"].isin(hids)])
        # Locked windows replace the computed best window of that day.
        for hid, lk in locks.items():
            if lk.start is not None:
                start = pd.Timestamp(lk.start)
                start = start.tz_localize(settings.TIMEZONE) if start.tzinfo is None else start.tz_convert(
                    settings.TIMEZONE
                )
                hours = int(lk.hours or max(settings.ACTION_DURATIONS_H))
                hr = hourly_risk[(hourly_risk["hospital_id"] == hid) & (hourly_risk["date"] == start.date())]
                sh = start.hour + start.minute / 60
                cov = float(hr[(hr["hour"] >= math.floor(sh)) & (hr["hour"] < sh + hours)]["risk"].sum())
                row = pd.DataFrame(
                    [{"hospital_id": hid, "date": start.date(), "start_h": sh, "hours": hours, "covered_risk": cov,
                      "value": cov}]
                )
                self.win = pd.concat(
                    [self.win[~((self.win["hospital_id"] == hid) & (self.win["date"] == start.date()))], row],
                    ignore_index=True,
                )
        self.wmap = {(r.hospital_id, r.date): r for r in self.win.itertuples(index=False)}
        best = self.win.groupby("hospital_id")["covered_risk"].max().reindex(hids).fillna(0.0)
        span = best.max() - best.min()
        self.level = ((best - best.min()) / span if span > 0 else best * 0 + 0.5).reindex(hids)
        mn, mx = officer_bounds(self.level)
        self.min_off = dict(zip(hids, mn, strict=True))
        self.max_off = dict(zip(hids, mx, strict=True))
        self.vbar = max(float(best.mean()), 1e-9)
        self.pairs = eligible_units(self.h, self.units)
        self.avail = {(u.unit_id, d): int(u.available_per_day) for u in self.units.itertuples() for d in days}
        if availability is not None and len(availability):
            for r in availability.itertuples(index=False):
                key = (r.unit_id, pd.Timestamp(r.date).date())
                if key in self.avail:
                    self.avail[key] = int(r.available)
        self.kind = dict(zip(self.units["unit_id"], self.units["kind"], strict=True))

    # ------------------------------------------------------------------ model
    def solve(self, relax: set[str], *, mip_gap=None, time_limit_s=None, feasibility_only=False) -> ActionPlanResult:
        hids = list(self.h["hospital_id"])
        days = self.days
        nd = len(days)
        big_avail = sum(self.max_off.values()) + 1
        # Variables: p[h,d] (binary: action of h on day d), y[pair,d] (officers of the pair's
        # unit at h's action on d), q[d] (binary: unified day), e[pair] (deviation from a
        # previous plan's forces).
        nh = len(hids)
        hidx = {h: i for i, h in enumerate(hids)}
        pairs = list(self.pairs.itertuples(index=False))
        npair = len(pairs)
        P0 = 0
        Y0 = nh * nd
        Q0 = Y0 + npair * nd
        E0 = Q0 + nd
        nvar = E0 + npair
        c = np.zeros(nvar)
        lb = np.zeros(nvar)
        ub = np.ones(nvar)
        integrality = np.ones(nvar)
        # Officer counts may be continuous: once the days are fixed, the force constraints form a
        # bipartite transportation matrix (totally unimodular), so the vertices are integral.
        integrality[Y0:Q0] = 0
        integrality[E0:] = 0
        ub[E0:] = np.inf
        rows, cols, vals, clo, chi = [], [], [], [], []
        nrow = 0

        def add(coeffs, lo, hi):
            nonlocal nrow
            for col, v in coeffs:
                rows.append(nrow)
                cols.append(col)
                vals.append(v)
            clo.append(lo)
            chi.append(hi)
            nrow += 1

        prev_day = {}
        if self.prev is not None and len(self.prev):
            prev_day = {r.hospital_id: pd.Timestamp(r.date).date() for r in self.prev.itertuples(index=False)}
        prev_forces = {}
        if self.prev_f is not None and len(self.prev_f):
            prev_forces = {(r.hospital_id, r.unit_id): int(r.officers) for r in self.prev_f.itertuples(index=False)}
        # Minimal change dominates: one kept day outweighs any risk gain.
        keep_w = 10.0 * (nh + 1) * (1 + max((w.value for w in self.wmap.values()), default=0) / self.vbar)

        for h in hids:
            i = hidx[h]
            lk = self.locks.get(h)
            lock_day = None
            if lk is not None and lk.start is not None and "locks" not in relax:
                lock_day = pd.Timestamp(lk.start).date()
            for k, d in enumerate(days):
                col = P0 + i * nd + k
                w = self.wmap.get((h, d))
                if w is None or ("blocked" not in relax and d in self.blocked and lock_day != d):
                    ub[col] = 0
                    continue
                if isinstance(self.unified_day, dt.date) and "unified" not in relax and d != self.unified_day:
                    ub[col] = 0
                if lock_day is not None:
                    lb[col] = ub[col] = 1.0 if d == lock_day else 0.0
                if not feasibility_only:
                    # A tiny hospital-specific preference among equal days breaks the symmetry of
                    # identical weekdays, which otherwise slows branch and bound.
                    tie = 1e-4 * (((i * 7 + k * 3) % nd) / nd)
                    c[col] = -w.value / self.vbar - tie - (keep_w if prev_day.get(h) == d else 0.0)
            add([(P0 + i * nd + k, 1.0) for k in range(nd)], 1, 1)

        by_h: dict[str, list[int]] = {}
        by_u: dict[str, list[int]] = {}
        for pi, pr in enumerate(pairs):
            by_h.setdefault(pr.hospital_id, []).append(pi)
            by_u.setdefault(pr.unit_id, []).append(pi)
            i = hidx[pr.hospital_id]
            lvl = float(self.level[pr.hospital_id])
            lk = self.locks.get(pr.hospital_id)
            fixed = None
            if lk is not None and lk.forces is not None and "locks" not in relax:
                fixed = int(lk.forces.get(pr.unit_id, 0))
            for k in range(nd):
                yc = Y0 + pi * nd + k
                ub[yc] = max(self.max_off[pr.hospital_id], fixed or 0)
                if not feasibility_only:
                    c[yc] = -(_OFFICER_REWARD * (1 + lvl) - _KIND_COST[pr.kind])
                pc = P0 + i * nd + k
                if fixed is not None:
                    add([(yc, 1.0), (pc, -float(fixed))], 0, 0)  # locked forces: y = fixed * p
            if prev_forces and not feasibility_only:
                # Deviation from the previous plan's forces (only when re-planning).
                pv = prev_forces.get((pr.hospital_id, pr.unit_id), 0)
                ys = [(Y0 + pi * nd + k, 1.0) for k in range(nd)]
                add([*ys, (E0 + pi, -1.0)], -np.inf, pv)
                add([*((col, -1.0) for col, _ in ys), (E0 + pi, -1.0)], -np.inf, -pv)
                c[E0 + pi] = keep_w / 10.0
            else:
                ub[E0 + pi] = 0

        # Officers per action within [min, max] on the chosen day (0 on other days).
        for h in hids:
            i = hidx[h]
            mn = 0 if "min_officers" in relax else self.min_off[h]
            mx = self.max_off[h]
            lk = self.locks.get(h)
            if lk is not None and lk.forces is not None and "locks" not in relax:
                mx = max(mx, sum(lk.forces.values()))
                mn = min(mn, sum(lk.forces.values()))
            for k in range(nd):
                ys = [(Y0 + pi * nd + k, 1.0) for pi in by_h.get(h, [])]
                pc = P0 + i * nd + k
                add([*ys, (pc, -float(mn))], 0, np.inf)
                add([*ys, (pc, -float(mx))], -np.inf, 0)

        # Each officer a unit releases on a day serves one action: the unit's officers over all
        # actions of that day stay within its availability, so nobody is in two places at once.
        for u, pis in by_u.items():
            for k, d in enumerate(days):
                cap = self.avail[(u, d)] if "availability" not in relax else big_avail
                add([(Y0 + pi * nd + k, 1.0) for pi in pis], -np.inf, float(cap))

        # City-wide unified day chosen by the solver.
        if self.unified_day is True and "unified" not in relax:
            add([(Q0 + k, 1.0) for k in range(nd)], 1, 1)
            for i in range(nh):
                for k in range(nd):
                    add([(P0 + i * nd + k, 1.0), (Q0 + k, -1.0)], -np.inf, 0)
        else:
            ub[Q0:E0] = 0

        A = sparse.csr_array((vals, (rows, cols)), shape=(nrow, nvar))
        options = {
            "mip_rel_gap": settings.ACTION_MIP_GAP if mip_gap is None else mip_gap,
            "time_limit": settings.ACTION_TIME_LIMIT_S if time_limit_s is None else time_limit_s,
            "disp": _DISP,
        }
        t0 = time.perf_counter()
        sol = milp(c, constraints=LinearConstraint(A, clo, chi), integrality=integrality, bounds=Bounds(lb, ub),
                   options=options)
        elapsed = time.perf_counter() - t0
        empty_a = pd.DataFrame(columns=["hospital_id", "date", "start", "end", "hours", "covered_risk", "officers",
                                        "min_officers", "max_officers", "locked"])
        empty_f = pd.DataFrame(columns=["hospital_id", "unit_id", "kind", "officers"])
        if sol.x is None:
            return ActionPlanResult("infeasible", empty_a, empty_f, solve_time_s=elapsed, n_variables=nvar,
                                    n_constraints=nrow, message="无可行方案。")
        x = np.round(sol.x).astype(int)
        # Only the solver's tolerance separates continuous officer counts from integers.
        if np.abs(sol.x[Y0:Q0] - x[Y0:Q0]).max(initial=0) > 1e-6:
            raise RuntimeError("Officer counts came back fractional; the force constraints lost integrality.")
        acts, forces = [], []
        for h in hids:
            i = hidx[h]
            k = int(np.argmax(x[P0 + i * nd: P0 + (i + 1) * nd]))
            d = days[k]
            w = self.wmap[(h, d)]
            total = 0
            for pi in by_h.get(h, []):
                n = int(x[Y0 + pi * nd + k])
                if n > 0:
                    forces.append((h, pairs[pi].unit_id, pairs[pi].kind, n))
                    total += n
            start = _local(d, w.start_h)
            acts.append((h, d, start, start + pd.Timedelta(hours=int(w.hours)), int(w.hours), float(w.covered_risk),
                         total, self.min_off[h], self.max_off[h], h in self.locks))
        actions = pd.DataFrame(acts, columns=empty_a.columns)
        gap = float(getattr(sol, "mip_gap", float("nan")) or 0.0)
        status = "optimal" if sol.status == 0 else "feasible"
        msg = (
            f"已为{len(actions)}家重点医院各安排一次集中行动，共投入警力{int(actions['officers'].sum())}人次；"
            f"求解用时{elapsed:.2f}秒，最优性差距{gap:.2%}。"
        )
        return ActionPlanResult(status, actions, pd.DataFrame(forces, columns=empty_f.columns), objective=float(-sol.fun),
                                gap=gap, solve_time_s=elapsed, message=msg, n_variables=nvar, n_constraints=nrow)

    # ------------------------------------------------------------------ diagnosis
    def diagnose(self, *, time_limit_s=None) -> list[str]:
        notes = []
        # Direct checks first: they name the hospital, which is what a commander needs.
        for h in self.h.itertuples(index=False):
            us = self.pairs[self.pairs["hospital_id"] == h.hospital_id]["unit_id"]
            if us.empty:
                notes.append(f"{getattr(h, 'name', h.hospital_id)}没有可调用的警力单位（无驻院警力、属地派出所或治安机动力量）。")
                continue
            best = max((sum(self.avail[(u, d)] for u in us) for d in self.days), default=0)
            if best < self.min_off[h.hospital_id]:
                notes.append(
                    f"{getattr(h, 'name', h.hospital_id)}至少需要{self.min_off[h.hospital_id]}名警力，"
                    f"但可调用单位单日最多只能出动{best}人。"
                )
        open_days = [d for d in self.days if d not in self.blocked]
        if not open_days:
            notes.append("本月所有日期均被屏蔽，没有可安排行动的日期。")
        culprits = []
        groups = ["availability", "min_officers", "blocked", "unified", "locks"]
        present = {
            "blocked": bool(self.blocked),
            "unified": bool(self.unified_day),
            "locks": bool(self.locks),
        }
        for g in groups:
            if not present.get(g, True):
                continue
            r = self.solve({g}, time_limit_s=time_limit_s, feasibility_only=True)
            if r.feasible:
                culprits.append(g)
        if culprits:
            labels = "」或「".join(CONSTRAINT_GROUPS[g] for g in culprits)
            notes.append(f"放宽「{labels}」即可排出方案，冲突出在该约束。")
        elif not notes:
            notes.append("单独放宽任何一类约束都无法得到方案，多类约束同时冲突，请减少屏蔽日期或增加可用警力。")
        return notes
