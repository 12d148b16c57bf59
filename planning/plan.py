"""The monthly plan: key hospitals, concentrated actions and daily patrols, tied together.

:func:`make_plan` reads the store, forecasts risk with ``geo.forecast.hospital_hour_risk``,
finds patrol points with ``geo.hotspots.find_clusters``, solves the action MILP
(:mod:`planning.actions`) and the patrol LPs (:mod:`planning.patrols`) and returns a
:class:`Plan`. ``Plan.to_json()`` writes the documented exchange format (docs/plan_json.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from core import settings
from core.trust.access import AccessScope
from geo.io.reference import load_entrances
from planning.actions import (
    ActionLock,
    ActionPlanResult,
    add_target_peaks,
    daily_hourly_risk,
    month_days,
    solve_actions,
)
from planning.patrols import PatrolPlan, build_roster, patrol_points, plan_patrols

FORMAT = "hospital-hotspots/plan"
FORMAT_VERSION = 1


class PlanInfeasibleError(ValueError):
    """No action plan satisfies the constraints; the message says which (in Chinese)."""

    def __init__(self, message: str, result: ActionPlanResult):
        super().__init__(message)
        self.result = result


@dataclass
class Plan:
    """A month's plan.

    Attributes
    ----------
    month, seed
        The planned month and the seed of every random draw (same seed, same plan).
    hospitals, units, officers
        Inputs as loaded from the store (officers: stationed officers only).
    listed
        Hospital ids of the key-hospital list the actions were planned for.
    actions, forces
        One action per listed hospital; officers per (hospital, unit)
        (:class:`planning.actions.ActionPlanResult`).
    points, visits, coverage, guarantees, roster
        Patrol points, sampled visits, LP coverage per (date, point, slot), peak windows with
        the 2-hour revisit guarantee, and the officers' shifts.
    action_result, patrol_result
        The solvers' full reports (objective, gap, solve time, warnings).
    params
        The planning inputs (blocked dates, unified day, locks, absences, availability), so
        that re-planning can repeat them.
    demo
        True when the store holds the synthetic demo (exports label it).
    """

    month: str
    seed: int
    hospitals: pd.DataFrame
    units: pd.DataFrame
    officers: pd.DataFrame
    listed: list[str]
    action_result: ActionPlanResult
    patrol_result: PatrolPlan
    points: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    demo: bool = False
    created_at: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz=settings.TIMEZONE).floor("s"))
    engine: Engine | None = None

    @property
    def actions(self) -> pd.DataFrame:
        """Concentrated actions (hospital_id, date, start, end, hours, covered_risk, officers, ...)."""
        return self.action_result.actions

    @property
    def forces(self) -> pd.DataFrame:
        """Officers per (hospital_id, unit_id, kind)."""
        return self.action_result.forces

    @property
    def visits(self) -> pd.DataFrame:
        """Patrol visits (visit_id, date, hospital_id, point_id, officer_id, start, end)."""
        return self.patrol_result.visits

    @property
    def coverage(self) -> pd.DataFrame:
        """Coverage probability per (date, hospital_id, point_id, slot) with its risk."""
        return self.patrol_result.coverage

    @property
    def guarantees(self) -> pd.DataFrame:
        """Peak windows with the revisit guarantee (date, hospital_id, point_id, start, end)."""
        return self.patrol_result.guarantees

    @property
    def roster(self) -> pd.DataFrame:
        """Shifts of the stationed officers."""
        return self.patrol_result.roster

    def hospital_name(self, hospital_id: str) -> str:
        """Short name of a hospital (its id when unknown)."""
        names = self.__dict__.get("_names")
        if names is None:
            names = dict(zip(self.hospitals["hospital_id"], self.hospitals["name"], strict=True))
            self.__dict__["_names"] = names
        return str(names.get(hospital_id, hospital_id))

    def summary(self) -> dict[str, Any]:
        """Headline figures (used by the exports and the CLI)."""
        ar, pr = self.action_result, self.patrol_result
        return {
            "listed_hospitals": len(self.listed),
            "actions": len(self.actions),
            "action_officers": int(self.actions["officers"].sum()) if len(self.actions) else 0,
            "action_covered_risk": float(self.actions["covered_risk"].sum()) if len(self.actions) else 0.0,
            "patrol_hospitals": int(self.visits["hospital_id"].nunique()) if len(self.visits) else 0,
            "patrol_officers": int(self.roster["officer_id"].nunique()) if len(self.roster) else 0,
            "visits": len(self.visits),
            "patrol_covered_risk": pr.covered_risk,
            "patrol_total_risk": pr.total_risk,
            "solver_status": ar.status,
            "objective": ar.objective,
            "gap": ar.gap,
            "action_solve_time_s": ar.solve_time_s,
            "patrol_lp_time_s": pr.solve_time_s,
        }

    def to_json(self, *, scope: AccessScope | None = None, indent: int | None = None) -> str:
        """The plan in the exchange format of docs/plan_json.md (filtered and masked by ``scope``)."""
        return json.dumps(plan_document(self, scope=scope), ensure_ascii=False, indent=indent)


# --------------------------------------------------------------------------- JSON


def _iso(ts: Any) -> str:
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize(settings.TIMEZONE)
    return t.tz_convert(settings.TIMEZONE).isoformat()


def _iso_col(s: pd.Series) -> list[str]:
    """ISO 8601 with the local offset (e.g. +08:00) for a column of timestamps, vectorised.

    ``Series.dt.strftime`` formats element by element (~100 µs per 1,000 rows); numpy's
    ``datetime_as_string`` on the local wall times plus the per-row offset is ~20× faster.
    """
    if len(s) == 0:
        return []
    t = pd.to_datetime(s)
    t = t.dt.tz_localize(settings.TIMEZONE) if t.dt.tz is None else t.dt.tz_convert(settings.TIMEZONE)
    local = t.dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    utc = t.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    off_s = (local - utc).astype(np.int64)
    text = np.datetime_as_string(local, unit="s").astype(object)
    offsets = {}
    for o in np.unique(off_s):
        sign = "+" if o >= 0 else "-"
        m = abs(int(o)) // 60
        offsets[int(o)] = f"{sign}{m // 60:02d}:{m % 60:02d}"
    if len(offsets) == 1:
        suffix = next(iter(offsets.values()))
        return [x + suffix for x in text]
    return [x + offsets[int(o)] for x, o in zip(text, off_s, strict=True)]


def _num(x: float, nd: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


#: Roles that assign or carry out duty and therefore see officers by name (officers are not the
#: people masking protects); other roles (卫健联络员) see masked names.
OFFICER_NAME_ROLES = frozenset({"commander", "officer", "admin"})


def officer_names_visible(scope: AccessScope | None) -> bool:
    """Whether ``scope`` sees officers' names in schedules, exports and calendars."""
    return scope is None or scope.personal or scope.role in OFFICER_NAME_ROLES


def plan_document(plan: Plan, *, scope: AccessScope | None = None) -> dict[str, Any]:
    """The plan as a JSON-ready dict; see docs/plan_json.md."""
    from core.trust.privacy import mask_person_name

    allowed = None if scope is None else scope.hospital_ids
    named = officer_names_visible(scope)

    def keep(df: pd.DataFrame) -> pd.DataFrame:
        return df if allowed is None or df.empty else df[df["hospital_id"].isin(allowed)]

    hospitals = keep(plan.hospitals)
    actions = keep(plan.actions)
    forces = keep(plan.forces)
    points = keep(plan.points)
    visits = keep(plan.visits)
    roster = keep(plan.roster)
    officers = keep(plan.officers)
    if scope is not None and scope.role == "officer" and scope.officer_id:
        visits = visits[visits["officer_id"] == scope.officer_id]
        roster = roster[roster["officer_id"] == scope.officer_id]
        officers = officers[officers["officer_id"] == scope.officer_id]
    ar = plan.action_result
    slot_len = settings.PATROL_SLOT_MIN
    cov = keep(plan.coverage)
    coverage = []
    if len(cov):
        first = min(int(v[0]) * 60 + int(v[1]) for v in (s[0].split(":") for s in settings.PATROL_SHIFTS.values()))
        last = max(int(v[0]) * 60 + int(v[1]) for v in (s[1].split(":") for s in settings.PATROL_SHIFTS.values()))
        nslot = (last - first) // slot_len
        local = cov["slot"].dt.tz_convert(settings.TIMEZONE)
        idx = ((local.dt.hour * 60 + local.dt.minute - first) // slot_len).to_numpy()
        # One (date, point) row per group, filled in one scatter instead of a groupby loop.
        keys = cov[["date", "hospital_id", "point_id"]].astype({"date": str})
        gid = keys.groupby(["date", "hospital_id", "point_id"], sort=True).ngroup().to_numpy()
        ng = int(gid.max()) + 1
        p = np.zeros((ng, nslot))
        r = np.zeros((ng, nslot))
        p[gid, idx] = cov["probability"].to_numpy(dtype=float)
        r[gid, idx] = cov["risk"].to_numpy(dtype=float)
        heads = keys.groupby(gid, sort=True).first()
        p_rows = np.round(p, 4).tolist()
        r_rows = np.round(r, 5).tolist()
        first_txt = f"{first // 60:02d}:{first % 60:02d}"
        coverage = [
            {"date": d, "hospital_id": hid, "point_id": pid, "first_slot": first_txt, "slot_minutes": slot_len,
             "p": pr, "risk": rr}
            for d, hid, pid, pr, rr in zip(heads["date"], heads["hospital_id"], heads["point_id"], p_rows, r_rows,
                                           strict=True)
        ]
    params = plan.params
    point_names = dict(zip(plan.points["point_id"], plan.points["name"], strict=True))
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "month": plan.month,
        "seed": int(plan.seed),
        "generated_at": _iso(plan.created_at),
        "timezone": settings.TIMEZONE,
        "demo": bool(plan.demo),
        "data_label": "演示数据（合成）" if plan.demo else "",
        "rules": {
            "slot_minutes": slot_len,
            "visit_minutes": list(settings.PATROL_VISIT_MIN),
            "max_revisit_minutes": settings.PATROL_MAX_REVISIT_MIN,
            "max_hours_day": settings.PATROL_MAX_HOURS_DAY,
            "max_hours_week": settings.PATROL_MAX_HOURS_WEEK,
            "rest_days_per_week": settings.PATROL_REST_DAYS_PER_WEEK,
            "shifts": {k: list(v) for k, v in settings.PATROL_SHIFTS.items()},
            "blocked_dates": [str(d) for d in params.get("blocked_dates", [])],
            "absences": {k: [str(d) for d in v] for k, v in sorted((params.get("absences") or {}).items()) if v},
            "unified_day": (str(params["unified_day"]) if isinstance(params.get("unified_day"), dt.date)
                            else bool(params.get("unified_day", False))),
        },
        "solver": {
            "status": ar.status, "objective": _num(ar.objective), "gap": _num(ar.gap, 6),
            "solve_time_s": _num(ar.solve_time_s, 3), "message": ar.message, "diagnosis": ar.diagnosis,
            "patrol_covered_risk": _num(plan.patrol_result.covered_risk),
            "patrol_total_risk": _num(plan.patrol_result.total_risk),
            "patrol_lp_time_s": _num(plan.patrol_result.solve_time_s, 3),
            "warnings": plan.patrol_result.warnings,
        },
        "hospitals": [
            {"hospital_id": r.hospital_id, "name": r.name, "district": r.district, "lon": float(r.lon),
             "lat": float(r.lat), "listed": r.hospital_id in plan.listed}
            for r in hospitals.itertuples(index=False)
        ],
        "units": [
            {"unit_id": r.unit_id, "name": r.name, "kind": r.kind, "district": r.district,
             "hospital_id": r.hospital_id if isinstance(r.hospital_id, str) else None,
             "available_per_day": int(r.available_per_day)}
            for r in plan.units.itertuples(index=False)
        ],
        "availability": [
            {"unit_id": r.unit_id, "date": str(pd.Timestamp(r.date).date()), "available": int(r.available)}
            for r in (params.get("availability") if params.get("availability") is not None
                      else pd.DataFrame(columns=["unit_id", "date", "available"])).itertuples(index=False)
        ],
        "officers": [
            {"officer_id": r.officer_id, "name": r.name if named else mask_person_name(r.name),
             "unit_id": r.unit_id, "hospital_id": r.hospital_id}
            for r in officers.itertuples(index=False)
        ],
        "actions": [
            {
                "action_id": f"A-{plan.month}-{r.hospital_id}", "hospital_id": r.hospital_id,
                "hospital": plan.hospital_name(r.hospital_id), "date": str(r.date), "start": _iso(r.start),
                "end": _iso(r.end), "hours": int(r.hours), "covered_risk": _num(r.covered_risk),
                "officers": int(r.officers), "min_officers": int(r.min_officers), "max_officers": int(r.max_officers),
                "locked": bool(r.locked),
                "units": [
                    {"unit_id": f.unit_id, "kind": f.kind, "officers": int(f.officers)}
                    for f in forces[forces["hospital_id"] == r.hospital_id].itertuples(index=False)
                ],
            }
            for r in actions.itertuples(index=False)
        ],
        "shifts": [
            {"officer_id": oid, "hospital_id": hid, "date": str(d), "shift": sh, "start": s0, "end": s1,
             "meal_start": m0, "meal_end": m1}
            for oid, hid, d, sh, s0, s1, m0, m1 in zip(
                roster["officer_id"], roster["hospital_id"], roster["date"], roster["shift"], _iso_col(roster["start"]),
                _iso_col(roster["end"]), _iso_col(roster["meal_start"]), _iso_col(roster["meal_end"]), strict=True)
        ],
        "points": [
            {"point_id": r.point_id, "hospital_id": r.hospital_id, "name": r.name, "kind": r.kind,
             "lon": round(float(r.lon), 7), "lat": round(float(r.lat), 7), "share": round(float(r.share), 4),
             "hot": bool(r.hot), "peak_windows": list(r.peak_windows)}
            for r in points.itertuples(index=False)
        ],
        "peak_guarantees": [
            {"hospital_id": r.hospital_id, "point_id": r.point_id, "start": _iso(r.start), "end": _iso(r.end)}
            for r in keep(plan.guarantees).itertuples(index=False)
        ],
        "visits": [
            {"visit_id": vid, "date": s0[:10], "officer_id": oid, "hospital_id": hid, "point_id": pid,
             "point": point_names.get(pid, pid), "start": s0, "end": s1}
            for vid, oid, hid, pid, s0, s1 in zip(visits["visit_id"], visits["officer_id"], visits["hospital_id"],
                                                  visits["point_id"], _iso_col(visits["start"]), _iso_col(visits["end"]),
                                                  strict=True)
        ],
        "coverage": coverage,
    }


# --------------------------------------------------------------------------- inputs


def _month_start(month: str) -> pd.Timestamp:
    return pd.Timestamp(month_days(month)[0]).tz_localize(settings.TIMEZONE)


def forecast_risk(engine: Engine, *, month: str, hospital_ids: Iterable[str]) -> pd.DataFrame:
    """Weekday-hour risk of ``month`` per hospital from ``geo.forecast.hospital_hour_risk``."""
    from core.db import load_incidents
    from geo.forecast import hospital_hour_risk

    start = _month_start(month)
    events = load_incidents(engine, start=start - pd.Timedelta(days=365), end=start,
                            columns=["received_at", "hospital_id"])
    return hospital_hour_risk(events, until=start, horizon="month", hospital_ids=list(hospital_ids))


def find_points(engine: Engine, *, month: str, hospitals: pd.DataFrame) -> pd.DataFrame:
    """Patrol points of ``hospitals`` from the incidents of the lookback before ``month``."""
    from core.db import load_incidents
    from geo.hotspots import find_clusters

    start = _month_start(month)
    events = load_incidents(engine, start=start - pd.Timedelta(days=settings.PATROL_LOOKBACK_DAYS), end=start,
                            hospital_ids=list(hospitals["hospital_id"]),
                            columns=["received_at", "lon", "lat", "approximate", "category", "hospital_id",
                                     "address"])
    # Complaints placed at the hospital they name carry no location of their own.
    located = events[~events["approximate"]]
    clusters = find_clusters(located, hospitals=hospitals) if len(located) else None
    return patrol_points(hospitals, located, clusters=clusters, entrances=load_entrances(engine))


def make_plan(
    engine: Engine,
    *,
    month: str,
    seed: int,
    hospital_ids: Iterable[str] | None = None,
    blocked_dates: Iterable[dt.date] = (),
    unified_day: bool | dt.date = False,
    availability: pd.DataFrame | None = None,
    locks: Iterable[ActionLock] = (),
    absences: Mapping[str, Iterable[dt.date]] | None = None,
    previous: Plan | None = None,
    points: pd.DataFrame | None = None,
    weekday_risk: pd.DataFrame | None = None,
) -> Plan:
    """Make the plan of ``month``.

    Parameters
    ----------
    engine
        The store.
    month
        "YYYY-MM".
    seed
        Seed of the patrol sampling (recorded; the same seed regenerates the same plan).
    hospital_ids
        Hospitals that get a concentrated action; default the month's final key-hospital list
        (:func:`planning.keylist.final_keylist`).
    blocked_dates, unified_day, availability, locks
        See :func:`planning.actions.solve_actions`.
    absences
        officer_id -> dates the officer is absent; the officer's unit releases one fewer
        officer on those dates and the officer gets no patrol shift.
    previous
        A plan this one re-plans: its action days and forces are kept where possible.
    points, weekday_risk
        Precomputed patrol points and forecast (e.g. from ``previous``); default computed.

    Raises
    ------
    PlanInfeasibleError
        When no action plan satisfies the constraints (message in Chinese).
    """
    from core.db import is_demo, load_hospitals, load_officers, load_units
    days = month_days(month)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"`seed` must be an integer, got {seed!r}.")
    hospitals = load_hospitals(engine)
    units = load_units(engine)
    officers_all = load_officers(engine)
    officers_all = officers_all[officers_all["active"].astype(bool)]
    stationed_units = set(units.loc[units["kind"] == "stationed", "unit_id"])
    officers = officers_all[officers_all["unit_id"].isin(stationed_units) & officers_all["hospital_id"].notna()]
    if hospital_ids is None:
        from planning.keylist import final_keylist

        hospital_ids = final_keylist(engine, month=month)
    listed = sorted(set(hospital_ids))
    unknown = sorted(set(listed) - set(hospitals["hospital_id"]))
    if unknown:
        raise ValueError(f"`hospital_ids` contains unknown hospitals: {unknown}.")
    patrol_h = sorted(set(officers["hospital_id"]))
    if weekday_risk is None:
        weekday_risk = forecast_risk(engine, month=month, hospital_ids=sorted(set(listed) | set(patrol_h)))
    hourly = daily_hourly_risk(weekday_risk, month=month)

    # Absent officers lower their unit's availability on those dates.
    absences = {k: sorted({pd.Timestamp(d).date() for d in v}) for k, v in (absences or {}).items()}
    avail = availability.copy() if availability is not None else pd.DataFrame(columns=["unit_id", "date", "available"])
    if absences:
        unit_of = dict(zip(officers_all["officer_id"], officers_all["unit_id"], strict=True))
        base = dict(zip(units["unit_id"], units["available_per_day"], strict=True))
        cur = {(r.unit_id, pd.Timestamp(r.date).date()): int(r.available) for r in avail.itertuples(index=False)}
        for oid, ds in absences.items():
            if oid not in unit_of:
                raise ValueError(f"`absences` names an unknown or inactive officer: {oid!r}.")
            u = unit_of[oid]
            for d in ds:
                if d in days:
                    cur[(u, d)] = max(cur.get((u, d), int(base[u])) - 1, 0)
        avail = pd.DataFrame([(u, d, a) for (u, d), a in cur.items()], columns=["unit_id", "date", "available"])

    act_h = hospitals[hospitals["hospital_id"].isin(listed)]
    result = solve_actions(
        act_h, units, add_target_peaks(hourly, _targets(engine, act_h["hospital_id"])), month=month,
        blocked_dates=blocked_dates, unified_day=unified_day,
        availability=avail if len(avail) else None, locks=locks,
        previous=previous.actions if previous is not None else None,
        previous_forces=previous.forces if previous is not None else None,
    )
    if not result.feasible:
        raise PlanInfeasibleError(result.message, result)

    # While a hospital's stationed team serves in its action, it does not patrol.
    sta = result.forces[result.forces["kind"] == "stationed"]
    blackouts = result.actions[result.actions["hospital_id"].isin(set(sta["hospital_id"]))][
        ["hospital_id", "start", "end"]
    ]
    if points is None:
        points = find_points(engine, month=month, hospitals=hospitals[hospitals["hospital_id"].isin(patrol_h)])
    roster = build_roster(officers, month=month, seed=seed, absences=absences)
    patrol = plan_patrols(points, roster, hourly, month=month, seed=seed, blackouts=blackouts)
    names = dict(zip(hospitals["hospital_id"], hospitals["name"], strict=True))
    patrol.warnings = [names.get(w.split("：", 1)[0], "") + w[len(w.split("：", 1)[0]):] if "：" in w else w
                       for w in patrol.warnings]
    params = {
        "blocked_dates": sorted({pd.Timestamp(d).date() for d in blocked_dates}),
        "unified_day": unified_day,
        "availability": avail if len(avail) else None,
        "locks": list(locks),
        "absences": absences,
        "weekday_risk": weekday_risk,
    }
    return Plan(
        month=month, seed=int(seed), hospitals=hospitals, units=units, officers=officers, listed=listed,
        action_result=result, patrol_result=patrol, points=points, params=params, demo=is_demo(engine),
        engine=engine,
    )


def save_plan(engine: Engine, plan: Plan, *, username: str = "", parent_id: int | None = None) -> int:
    """Store ``plan`` (its JSON and its actions) and return its id."""
    from core.db import session_scope
    from core.db.schema import PlanAction, PlanRecord
    with session_scope(engine) as s:
        now = pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).floor("s").to_pydatetime()
        rec = PlanRecord(month=plan.month, seed=plan.seed, created_at=now, username=username,
                         parent_id=parent_id, summary=json.dumps(plan.summary(), ensure_ascii=False),
                         body=plan.to_json())
        s.add(rec)
        s.flush()
        for r in plan.actions.itertuples(index=False):
            s.add(PlanAction(plan_id=rec.id, hospital_id=r.hospital_id,
                             start=pd.Timestamp(r.start).tz_convert(settings.TIMEZONE).tz_localize(None).to_pydatetime(),
                             end=pd.Timestamp(r.end).tz_convert(settings.TIMEZONE).tz_localize(None).to_pydatetime(),
                             officers=int(r.officers), locked=bool(r.locked)))
        return int(rec.id)


def _ts_col(values: list[str]) -> pd.Series:
    """ISO 8601 strings with offsets -> tz-aware local timestamps."""
    if not values:
        return pd.Series(pd.DatetimeIndex([], tz=settings.TIMEZONE))
    return pd.Series(pd.to_datetime(values, utc=True)).dt.tz_convert(settings.TIMEZONE)


def plan_from_document(doc: Mapping[str, Any], *, engine: Engine | None = None) -> Plan:
    """A :class:`Plan` rebuilt from its stored plan.json (docs/plan_json.md), without solving.

    Everything the exporters and the schedules need is in the document; the per-slot coverage is
    not rebuilt (empty), so the result is for reading and exporting, not for re-planning.
    """
    from planning.patrols import PatrolPlan

    hospitals = pd.DataFrame(doc.get("hospitals", []), columns=["hospital_id", "name", "district", "lon", "lat",
                                                                 "listed"])
    units = pd.DataFrame(doc.get("units", []), columns=["unit_id", "name", "kind", "district", "hospital_id",
                                                         "available_per_day"])
    officers = pd.DataFrame(doc.get("officers", []), columns=["officer_id", "name", "unit_id", "hospital_id"])
    kinds = dict(zip(units["unit_id"], units["kind"], strict=True))
    acts = doc.get("actions", [])
    actions = pd.DataFrame({
        "hospital_id": [a["hospital_id"] for a in acts],
        "date": [dt.date.fromisoformat(a["date"]) for a in acts],
        "start": _ts_col([a["start"] for a in acts]), "end": _ts_col([a["end"] for a in acts]),
        "hours": [int(a["hours"]) for a in acts], "covered_risk": [float(a["covered_risk"] or 0) for a in acts],
        "officers": [int(a["officers"]) for a in acts], "min_officers": [int(a["min_officers"]) for a in acts],
        "max_officers": [int(a["max_officers"]) for a in acts], "locked": [bool(a["locked"]) for a in acts],
    })
    forces = pd.DataFrame([{"hospital_id": a["hospital_id"], "unit_id": u["unit_id"],
                            "kind": u.get("kind", kinds.get(u["unit_id"], "")), "officers": int(u["officers"])}
                           for a in acts for u in a.get("units", [])],
                          columns=["hospital_id", "unit_id", "kind", "officers"])
    points = pd.DataFrame(doc.get("points", []), columns=["point_id", "hospital_id", "name", "kind", "lon", "lat",
                                                          "share", "hot", "peak_windows"])
    vs = doc.get("visits", [])
    visits = pd.DataFrame({"visit_id": [v["visit_id"] for v in vs],
                           "date": [dt.date.fromisoformat(v["start"][:10]) for v in vs],
                           "hospital_id": [v["hospital_id"] for v in vs], "point_id": [v["point_id"] for v in vs],
                           "officer_id": [v["officer_id"] for v in vs]})
    visits["start"] = _ts_col([v["start"] for v in vs])
    visits["end"] = _ts_col([v["end"] for v in vs])
    sh = doc.get("shifts", [])
    roster = pd.DataFrame({"date": [dt.date.fromisoformat(x["date"]) for x in sh],
                           "officer_id": [x["officer_id"] for x in sh], "hospital_id": [x["hospital_id"] for x in sh],
                           "shift": [x["shift"] for x in sh]})
    for c in ("start", "end", "meal_start", "meal_end"):
        roster[c] = _ts_col([x[c] for x in sh])
    g = doc.get("peak_guarantees", [])
    guarantees = pd.DataFrame({"date": [dt.date.fromisoformat(x["start"][:10]) for x in g],
                               "hospital_id": [x["hospital_id"] for x in g], "point_id": [x["point_id"] for x in g]})
    guarantees["start"] = _ts_col([x["start"] for x in g])
    guarantees["end"] = _ts_col([x["end"] for x in g])
    solver = doc.get("solver", {})
    ar = ActionPlanResult(status=solver.get("status", "optimal"), actions=actions, forces=forces,
                          objective=solver.get("objective") or float("nan"), gap=solver.get("gap") or 0.0,
                          solve_time_s=solver.get("solve_time_s") or 0.0, message=solver.get("message", ""))
    coverage = pd.DataFrame(columns=["date", "hospital_id", "point_id", "slot", "probability", "risk"])
    pr = PatrolPlan(visits=visits, coverage=coverage, guarantees=guarantees, roster=roster,
                    covered_risk=solver.get("patrol_covered_risk") or 0.0,
                    total_risk=solver.get("patrol_total_risk") or 0.0,
                    solve_time_s=solver.get("patrol_lp_time_s") or 0.0, warnings=list(solver.get("warnings", [])))
    rules = doc.get("rules", {})
    params = {"blocked_dates": [dt.date.fromisoformat(d) for d in rules.get("blocked_dates", [])],
              "unified_day": rules.get("unified_day", False),
              "absences": {k: [dt.date.fromisoformat(d) for d in v] for k, v in (rules.get("absences") or {}).items()}}
    return Plan(
        month=doc["month"], seed=int(doc["seed"]), hospitals=hospitals.drop(columns=["listed"]), units=units,
        officers=officers, listed=[h["hospital_id"] for h in doc.get("hospitals", []) if h.get("listed")],
        action_result=ar, patrol_result=pr, points=points, params=params, demo=bool(doc.get("demo")),
        created_at=pd.Timestamp(doc["generated_at"]).tz_convert(settings.TIMEZONE), engine=engine,
    )


def _targets(engine, hospital_ids) -> pd.DataFrame | None:
    """Known targets' peak times at the action hospitals (None when the store holds no persons)."""
    from core.db.persons import hospital_targets

    t = hospital_targets(engine)
    return t[t["hospital_id"].isin(list(hospital_ids))] if len(t) else None
