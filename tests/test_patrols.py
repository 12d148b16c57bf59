"""Daily patrols: roster rules, the coverage LP, sampling that matches it, and the full plan's rules."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from planning.patrols import DayInput, build_roster, coverage_lp, sample_visits
from tests._planning_store import MONTH, base_plan
from tests.plan_checker import check_plan


def _officers(n_per_h=(4, 3, 1)):
    rows = []
    for h, n in enumerate(n_per_h):
        rows += [(f"O{h}{k}", f"H{h}") for k in range(n)]
    return pd.DataFrame(rows, columns=["officer_id", "hospital_id"])


def test_roster_rest_days_fair_early_shifts_and_staggered_meals():
    ros = build_roster(_officers(), month=MONTH, seed=1)
    for _oid, g in ros.groupby("officer_id"):
        days = sorted(g["date"])
        for d in days:
            assert sum(d <= x < d + dt.timedelta(days=7) for x in days) <= 5
        hours = ((g["end"] - g["start"]) - (g["meal_end"] - g["meal_start"])).dt.total_seconds() / 3600
        assert (hours <= 8).all()
    share = ros.assign(early=ros["shift"] == "早班").groupby(["hospital_id", "officer_id"])["early"].mean()
    spread = share.groupby(level=0).agg(lambda g: g.max() - g.min())
    assert (spread <= 0.1).all(), spread
    # Never the whole team at lunch at once when it has several members on the same shift.
    meals = ros.groupby(["hospital_id", "date", "shift"])["meal_start"].nunique()
    sizes = ros.groupby(["hospital_id", "date", "shift"]).size()
    assert (meals[sizes >= 2] >= 2).all()
    # Every day of a team of 4 is staffed.
    assert ros[ros["hospital_id"] == "H0"]["date"].nunique() == 30


def test_absence_removes_shifts():
    absent = [dt.date(2026, 11, d) for d in range(3, 10)]
    ros = build_roster(_officers(), month=MONTH, seed=1, absences={"O00": absent})
    assert not set(ros.loc[ros["officer_id"] == "O00", "date"]) & set(absent)


def _day(n_points=5, n_slots=30, officers=(2,) * 30, hot_rows=(0,), hot_slots=range(2, 9), seed=0):
    rng = np.random.default_rng(seed)
    risk = rng.gamma(2.0, 0.05, size=(n_points, n_slots))
    hot = np.zeros((n_points, n_slots), dtype=bool)
    for p in hot_rows:
        hot[p, list(hot_slots)] = True
    runs = [(p, min(hot_slots), max(hot_slots) + 1) for p in hot_rows]
    on_duty = [[f"O{k}" for k in range(n)] for n in officers]
    return DayInput("H", dt.date(2026, 11, 2), [f"P{i}" for i in range(n_points)], 360 + 30 * np.arange(n_slots),
                    risk, on_duty, hot, runs)


def test_coverage_lp_refuses_more_hot_points_than_officers():
    with pytest.raises(ValueError, match="hot points"):
        coverage_lp([_day(officers=[1] * 30, hot_rows=(0, 1))])


def test_coverage_lp_respects_capacity_and_beats_proportional_allocation():
    di = _day()
    (cov,) = coverage_lp([di])
    k = np.array([len(x) for x in di.on_duty])
    free = (~di.hot) * cov
    assert (free.sum(axis=0) <= k - di.hot.sum(axis=0) + 1e-7).all()
    assert (cov[di.hot] >= 1 / 3 - 1e-9).all() and (cov <= 1 + 1e-9).all()
    # The LP minimises the largest uncovered risk an adversary can find: no worse than
    # spreading the same officers in proportion to risk.
    prop = np.zeros_like(cov)
    budget = k - di.hot.sum(axis=0)
    r = np.where(di.hot, 0, di.risk)
    prop = np.minimum(r / r.sum(axis=0) * budget, 0.9)
    prop[di.hot] = cov[di.hot]
    assert (di.risk * (1 - cov)).max() <= (di.risk * (1 - prop)).max() + 1e-9


def test_sampled_frequencies_match_lp_probabilities():
    di = _day()
    (cov,) = coverage_lp([di])
    n = 600
    counts = np.zeros_like(cov)
    for i in range(n):
        for p, t, _oid, _s, _d in sample_visits(di, cov, np.random.default_rng(i)):
            counts[p, t] += 1
    mask = (cov > 0.02) & (cov < 0.98)
    z = (counts[mask] - n * cov[mask]) / np.sqrt(n * cov[mask] * (1 - cov[mask]))
    assert np.abs(z).max() < 4.5
    chi2 = float((z**2).sum())
    assert stats.chi2.sf(chi2, mask.sum()) > 1e-3
    # Cells the LP never covers are never visited.
    assert counts[cov < 1e-9].sum() == 0


def test_sampling_respects_officers_and_revisit_guarantee():
    di = _day(officers=[1] * 4 + [3] * 26, hot_rows=(0, 1), hot_slots=range(5, 13))
    (cov,) = coverage_lp([di])
    for seed in range(200):
        vis = sample_visits(di, cov, np.random.default_rng(seed))
        per_slot = pd.Series([t for _, t, *_ in vis]).value_counts()
        for t, c in per_slot.items():
            assert c <= len(di.on_duty[t])
        officers_in_slot = {}
        for _p, t, oid, start, dur in vis:
            assert 12 <= dur <= 16 and di.slots[t] <= start and start + dur <= di.slots[t] + 30
            assert oid not in officers_in_slot.setdefault(t, set())
            officers_in_slot[t].add(oid)
        for p, t0, t1 in di.runs:
            starts = sorted([di.slots[t0]] + [s for q, t, _o, s, _d in vis if q == p and t0 <= t < t1]
                            + [di.slots[t1 - 1] + 30])
            assert max(np.diff(starts)) <= 120


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return base_plan(tmp_path_factory)


def test_full_plan_passes_the_independent_checker(plan):
    doc = json.loads(plan.to_json())
    assert check_plan(doc) == []
    assert len(doc["visits"]) > 1000 and doc["peak_guarantees"]


def test_month_visit_frequencies_match_coverage(plan):
    """Over the month, visits per point and time of day match the summed LP probabilities."""
    v = plan.visits.copy()
    v["tod"] = v["start"].dt.hour * 60 + (v["start"].dt.minute // 30) * 30
    c = plan.coverage.copy()
    c["tod"] = c["slot"].dt.hour * 60 + c["slot"].dt.minute
    c["var"] = c["probability"] * (1 - c["probability"])
    exp = c.groupby(["point_id", "tod"])[["probability", "var"]].sum()
    obs = v.groupby(["point_id", "tod"]).size().reindex(exp.index).fillna(0)
    ok = exp["var"] > 0.5
    z = (obs[ok] - exp.loc[ok, "probability"]) / np.sqrt(exp.loc[ok, "var"])
    assert ok.sum() > 50
    assert np.abs(z).max() < 4.5
    assert stats.chi2.sf(float((z**2).sum()), int(ok.sum())) > 1e-3


def test_same_seed_same_plan_other_seed_other_days(plan, tmp_path_factory):
    from planning.patrols import plan_patrols

    pr = plan.patrol_result
    hourly = __import__("planning.actions", fromlist=["daily_hourly_risk"]).daily_hourly_risk(
        plan.params["weekday_risk"], month=MONTH)
    blk = plan.actions[plan.actions["hospital_id"].isin(plan.forces.loc[plan.forces["kind"] == "stationed",
                                                                        "hospital_id"])][["hospital_id", "start", "end"]]
    again = plan_patrols(plan.points, pr.roster, hourly, month=MONTH, seed=plan.seed, blackouts=blk)
    pd.testing.assert_frame_equal(again.visits, pr.visits)
    other = plan_patrols(plan.points, pr.roster, hourly, month=MONTH, seed=plan.seed + 1, blackouts=blk)
    key = ["officer_id", "point_id", "start"]
    a = set(map(tuple, pr.visits[key].astype(str).to_numpy()))
    b = set(map(tuple, other.visits[key].astype(str).to_numpy()))
    assert len(a & b) < 0.5 * len(a)
    # Days differ within one plan too: an officer's day pattern of (point, half hour) is rarely repeated.
    v = pr.visits.assign(slot=pr.visits["start"].dt.floor("30min").dt.strftime("%H:%M"))
    seqs = v.groupby(["officer_id", "date"])[["point_id", "slot"]].apply(lambda g: tuple(map(tuple, g.to_numpy())))
    per_officer = seqs.groupby(level=0)
    assert (per_officer.nunique() >= 0.8 * per_officer.size()).all()


def test_hotspot_points_come_from_clusters(plan):
    pts = plan.points.set_index("point_id")
    # The planted micro-hotspot of bj001 (north-east of the hospital) is a hot patrol point.
    hs = pts[(pts["hospital_id"] == "bj001") & (pts["kind"] == "hotspot")]
    assert len(hs) >= 1 and bool(hs.iloc[0]["hot"])
    h = plan.hospitals.set_index("hospital_id").loc["bj001"]
    assert hs.iloc[0]["lon"] > h.lon and hs.iloc[0]["lat"] > h.lat
    assert hs.iloc[0]["share"] > 0.5
    names = set(pts.loc[pts["hospital_id"] == "bj001", "name"])
    assert {"挂号大厅", "门诊南门", "急诊入口"} <= names
    # A hotspot without usable addresses is named by where it lies from the hospital, never by a code.
    assert hs.iloc[0]["name"].startswith("热点：") and "东北" in hs.iloc[0]["name"]


def test_hotspot_named_after_the_commonest_nearby_address():
    from planning.patrols import hotspot_name

    addrs = ["朝阳区XX路北口", "朝阳区XX路北口", "北京协和医院周边", "朝阳区YY街"]
    assert hotspot_name(addrs, "北京协和医院", "北") == "热点：XX路北口"
    # The hospital's own name is not a place: what follows it is.
    assert hotspot_name(["中国医学科学院北京协和医院东侧路口"] * 3, "协和医院", "东") == "热点：东侧路口"
    assert hotspot_name(["北京协和医院周边", ""], "北京协和医院", "西南") == "热点：医院西南侧"


@pytest.mark.slow
def test_plan_from_the_demo_store_passes_the_checker(demo_db_url, tmp_path):
    """The real demo (44 hospitals, synthetic incidents) plans end to end without a broken rule."""
    from planning.plan import make_plan
    from tests._planning_store import copy_store

    engine = copy_store(demo_db_url, f"sqlite:///{tmp_path / 'demo-copy.sqlite'}")
    plan = make_plan(engine, month="2026-11", seed=2026)
    doc = json.loads(plan.to_json())
    assert check_plan(doc) == []
    assert doc["demo"] and len(doc["actions"]) == len(plan.listed) > 0
    assert {p["kind"] for p in doc["points"]} == {"hotspot", "fixed"}
    assert all(w.split("：")[0] in set(plan.hospitals["name"]) for w in plan.patrol_result.warnings)
