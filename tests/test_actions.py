"""Monthly concentrated actions: the MILP places one action per listed hospital within the rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from planning.actions import ActionLock, best_windows, daily_hourly_risk, month_days, solve_actions

MONTH = "2026-12"


def _inputs(n_h: int = 6, *, seed: int = 0, reserve: int = 20, station: int = 6):
    rng = np.random.default_rng(seed)
    hosp = pd.DataFrame({"hospital_id": [f"H{i}" for i in range(n_h)], "name": [f"医院{i}" for i in range(n_h)],
                         "district": [f"D{i % 2}" for i in range(n_h)]})
    units = [(f"S{h}", "stationed", d, h, 3) for h, d in zip(hosp.hospital_id, hosp.district, strict=True)]
    units += [(f"P{d}", "station", f"D{d}", None, station) for d in range(2)]
    units += [("R", "reserve", "", None, reserve)]
    units = pd.DataFrame(units, columns=["unit_id", "kind", "district", "hospital_id", "available_per_day"])
    rows = []
    for i, h in enumerate(hosp.hospital_id):
        peak = 7 + (i % 3) * 4  # peaks at 07, 11, 15 h
        for wd in range(7):
            for hr in range(24):
                r = (1 + i) * (np.exp(-(((hr - peak) / 1.2) ** 2)) * 3 + 0.05) * (1.5 if wd == 0 else 1.0)
                rows.append((h, wd, hr, r * rng.uniform(0.9, 1.1)))
    risk = pd.DataFrame(rows, columns=["hospital_id", "weekday", "hour", "risk"])
    return hosp, units, daily_hourly_risk(risk, month=MONTH)


def _used(res) -> pd.Series:
    f = res.forces.merge(res.actions[["hospital_id", "date"]], on="hospital_id")
    return f.groupby(["unit_id", "date"])["officers"].sum()


def test_one_action_per_hospital_within_forces_and_bounds():
    hosp, units, hourly = _inputs()
    res = solve_actions(hosp, units, hourly, month=MONTH)
    assert res.feasible
    assert sorted(res.actions["hospital_id"]) == sorted(hosp["hospital_id"])
    cap = units.set_index("unit_id")["available_per_day"]
    used = _used(res)
    assert (used <= cap.reindex(used.index.get_level_values(0)).to_numpy()).all()
    a = res.actions
    assert ((a["officers"] >= a["min_officers"]) & (a["officers"] <= a["max_officers"])).all()
    # Riskier hospitals get larger minimum forces.
    assert a.sort_values("covered_risk")["min_officers"].is_monotonic_increasing
    # Only eligible units: own stationed team, the district's station, the reserve.
    for f in res.forces.itertuples(index=False):
        u = units.set_index("unit_id").loc[f.unit_id]
        h = hosp.set_index("hospital_id").loc[f.hospital_id]
        assert (u.kind == "stationed" and u.hospital_id == f.hospital_id) or (
            u.kind == "station" and u.district == h.district) or u.kind == "reserve"
    assert res.gap <= 0.01 + 1e-9 and res.solve_time_s > 0 and np.isfinite(res.objective)
    assert "集中行动" in res.message


def test_action_sits_on_the_forecast_peak():
    hosp, units, hourly = _inputs()
    res = solve_actions(hosp, units, hourly, month=MONTH)
    for a in res.actions.itertuples(index=False):
        day = hourly[(hourly["hospital_id"] == a.hospital_id) & (hourly["date"] == a.date)]
        peak_hour = int(day.loc[day["risk"].idxmax(), "hour"])
        assert a.start.hour <= peak_hour < a.start.hour + a.hours
    # The Monday boost makes Mondays the best days when forces allow.
    assert (pd.to_datetime(res.actions["date"]).dt.day_of_week == 0).mean() >= 0.5


def test_blocked_dates_and_unified_day():
    hosp, units, hourly = _inputs()
    mondays = [d for d in month_days(MONTH) if d.weekday() == 0]
    res = solve_actions(hosp, units, hourly, month=MONTH, blocked_dates=mondays)
    assert res.feasible and not set(res.actions["date"]) & set(mondays)
    res = solve_actions(hosp, units, hourly, month=MONTH, unified_day=True)
    assert res.feasible and res.actions["date"].nunique() == 1
    used = _used(res)
    cap = units.set_index("unit_id")["available_per_day"]
    assert (used <= cap.reindex(used.index.get_level_values(0)).to_numpy()).all()
    day = dt.date(2026, 12, 9)
    res = solve_actions(hosp, units, hourly, month=MONTH, unified_day=day)
    assert set(res.actions["date"]) == {day}


def test_availability_override_is_respected():
    hosp, units, hourly = _inputs()
    first = solve_actions(hosp, units, hourly, month=MONTH)
    d = first.actions.iloc[0]["date"]
    zero = pd.DataFrame({"unit_id": units["unit_id"], "date": d, "available": 0})
    res = solve_actions(hosp, units, hourly, month=MONTH, availability=zero)
    assert res.feasible and d not in set(res.actions["date"])


def test_infeasible_names_the_constraint_in_chinese():
    hosp, units, hourly = _inputs(reserve=0, station=0)
    # Stationed teams of 3 cannot meet minimum forces of 4+: availability (or minimum) is to blame.
    res = solve_actions(hosp, units, hourly, month=MONTH)
    assert res.status == "infeasible"
    text = "".join(res.diagnosis)
    assert "可出动警力" in text and "医院" in text
    hosp, units, hourly = _inputs()
    res = solve_actions(hosp, units, hourly, month=MONTH, blocked_dates=month_days(MONTH))
    assert not res.feasible and "屏蔽日期" in "".join(res.diagnosis)
    # Enough people overall, but not all on one day: the unified day is the culprit.
    hosp, units, hourly = _inputs(reserve=6, station=4)
    assert solve_actions(hosp, units, hourly, month=MONTH).feasible
    res = solve_actions(hosp, units, hourly, month=MONTH, unified_day=True)
    assert not res.feasible and "统一行动日" in res.message


def test_locks_fix_date_time_and_forces():
    hosp, units, hourly = _inputs()
    start = pd.Timestamp("2026-12-17 14:00", tz="Asia/Shanghai")
    lock = ActionLock("H0", start=start, hours=3, forces={"SH0": 2, "P0": 3})
    res = solve_actions(hosp, units, hourly, month=MONTH, locks=[lock])
    a = res.actions.set_index("hospital_id").loc["H0"]
    assert a.start == start and a.hours == 3 and bool(a.locked)
    f = res.forces[res.forces["hospital_id"] == "H0"].set_index("unit_id")["officers"].to_dict()
    assert f == {"SH0": 2, "P0": 3}


def test_replanning_keeps_days_of_previous_plan():
    hosp, units, hourly = _inputs()
    first = solve_actions(hosp, units, hourly, month=MONTH)
    moved = pd.Timestamp(f"{first.actions.iloc[0]['date'] + dt.timedelta(days=1)} 08:00", tz="Asia/Shanghai")
    lock = ActionLock(first.actions.iloc[0]["hospital_id"], start=moved, hours=2)
    res = solve_actions(hosp, units, hourly, month=MONTH, locks=[lock], previous=first.actions,
                        previous_forces=first.forces)
    merged = first.actions.merge(res.actions, on="hospital_id", suffixes=("_old", "_new"))
    changed = merged[merged["date_old"] != merged["date_new"]]
    assert list(changed["hospital_id"]) == [lock.hospital_id]


def test_best_windows_and_input_validation():
    _, _, hourly = _inputs(1)
    w = best_windows(hourly)
    assert (w["start_h"] <= 7).all() and (w["start_h"] + w["hours"] > 7).all()
    with pytest.raises(ValueError, match="month"):
        month_days("2026/12")
    with pytest.raises(ValueError, match="weekday_risk"):
        daily_hourly_risk(pd.DataFrame({"hospital_id": []}), month=MONTH)
