"""Benchmark of planning: the monthly action MILP and a month of daily patrols.

Targets (issue 5): 50 listed hospitals, 300 officers, 31 days — the action plan solved to a
gap of 1 % or less in at most 10 s; daily patrols of 200 stationed officers for the month in at
most 30 s. Synthetic inputs (no store), so the figures measure the solvers alone.

With ``--demo-scale S`` (e.g. 1.0) it also builds the synthetic demo store in a temporary
directory and times ``make_plan`` and every export on it (CPU seconds; targets: make_plan
≤ 15 s, each export ≤ 10 s for the full demo month). The demo store takes ~15 s to build.

Run: ``.venv/bin/python benchmarks/bench_planning.py [--hospitals 50] [--repeat 1] [--demo-scale 1.0]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planning.actions import daily_hourly_risk, solve_actions
from planning.patrols import build_roster, patrol_points, plan_patrols

MONTH = "2026-12"


def synthetic(n_h: int, *, n_stationed: int, n_other: int, seed: int = 0):
    """Hospitals, units, officers and a weekday-hour risk table shaped like the store's."""
    rng = np.random.default_rng(seed)
    districts = [f"区{i}" for i in range(16)]
    hosp = pd.DataFrame({
        "hospital_id": [f"H{i:03d}" for i in range(n_h)], "name": [f"医院{i}" for i in range(n_h)],
        "district": [districts[i % 16] for i in range(n_h)],
        "lon": 116.2 + rng.uniform(0, 0.4, n_h), "lat": 39.8 + rng.uniform(0, 0.25, n_h), "reg_open": "07:00",
    })
    per_h = np.full(n_h, n_stationed // n_h)
    per_h[: n_stationed - per_h.sum()] += 1
    units, officers = [], []
    for h, d, k in zip(hosp["hospital_id"], hosp["district"], per_h, strict=True):
        units.append((f"ZY-{h}", "stationed", d, h, int(k)))
        officers += [(f"O{len(officers):04d}", f"ZY-{h}", h) for _ in range(k)]
    per_station = np.full(len(districts), (n_other - 40) // len(districts))
    per_station[: n_other - 40 - per_station.sum()] += 1
    for i, (d, k) in enumerate(zip(districts, per_station, strict=True)):
        units.append((f"PCS{i:02d}", "station", d, None, int(rng.integers(6, 13))))
        officers += [(f"O{len(officers):04d}", f"PCS{i:02d}", None) for _ in range(k)]
    units.append(("ZADD", "reserve", "", None, 40))
    officers += [(f"O{len(officers):04d}", "ZADD", None) for _ in range(40)]
    units = pd.DataFrame(units, columns=["unit_id", "kind", "district", "hospital_id", "available_per_day"])
    officers = pd.DataFrame(officers, columns=["officer_id", "unit_id", "hospital_id"])
    rows = []
    hours = np.arange(24)
    for h in hosp["hospital_id"]:
        level = rng.gamma(2.0, 1.0)
        prof = 3 * np.exp(-(((hours - 7.5) / 1.3) ** 2)) + np.exp(-(((hours - 14.5) / 1.8) ** 2)) + 0.05
        for wd in range(7):
            mult = 1.3 if wd == 0 else (0.6 if wd >= 5 else 1.0)
            r = level * mult * prof * rng.uniform(0.85, 1.15, 24)
            rows += [(h, wd, int(hr), float(v)) for hr, v in zip(hours, r, strict=True)]
    risk = pd.DataFrame(rows, columns=["hospital_id", "weekday", "hour", "risk"])
    clusters = pd.DataFrame([
        {"cluster_id": f"{h}-{k}", "hospital_id": h, "count": 30 - 10 * k,
         "lon": lon + 0.0006 * (k + 1), "lat": lat + 0.0004, "peak_windows": ["07:00-09:00"] if k == 0 else []}
        for h, lon, lat in zip(hosp["hospital_id"], hosp["lon"], hosp["lat"], strict=True) for k in range(2)
    ])
    return hosp, units, officers, risk, clusters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hospitals", type=int, default=50)
    parser.add_argument("--stationed", type=int, default=200)
    parser.add_argument("--officers", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--demo-scale", type=float, default=0.0,
                        help="also time make_plan and the exports on a demo store of this scale (0: skip)")
    args = parser.parse_args()
    if args.demo_scale > 0:
        bench_demo(args.demo_scale)
    hosp, units, officers, risk, clusters = synthetic(args.hospitals, n_stationed=args.stationed,
                                                      n_other=args.officers - args.stationed)
    hourly = daily_hourly_risk(risk, month=MONTH)
    print(f"输入：{len(hosp)}家医院，{len(officers)}名民警（驻院{args.stationed}），{len(units)}个单位，{MONTH}共31天")
    for i in range(args.repeat):
        t0 = time.perf_counter()
        res = solve_actions(hosp, units, hourly, month=MONTH)
        wall = time.perf_counter() - t0
        used = res.forces.merge(res.actions[["hospital_id", "date"]], on="hospital_id").groupby(
            ["unit_id", "date"])["officers"].sum()
        cap = units.set_index("unit_id")["available_per_day"].reindex(used.index.get_level_values(0)).to_numpy()
        print(f"[集中行动 MILP #{i + 1}] 状态 {res.status}，变量 {res.n_variables}，约束 {res.n_constraints}，"
              f"目标 {res.objective:.3f}，差距 {res.gap:.3%}，HiGHS {res.solve_time_s:.2f} s，总耗时 {wall:.2f} s "
              f"（目标 ≤10 s、差距 ≤1 %：{'达成' if wall <= 10 and res.gap <= 0.01 else '未达成'}）；"
              f"超出可用警力的单位日：{int((used.to_numpy() > cap).sum())}")
    stationed = officers[officers["hospital_id"].notna()]
    blackouts = res.actions[["hospital_id", "start", "end"]]
    for i in range(args.repeat):
        t0 = time.perf_counter()
        points = patrol_points(hosp, pd.DataFrame(columns=["lon", "lat", "hospital_id"]), clusters=clusters)
        t1 = time.perf_counter()
        roster = build_roster(stationed, month=MONTH, seed=1)
        t2 = time.perf_counter()
        pp = plan_patrols(points, roster, hourly, month=MONTH, seed=1, blackouts=blackouts)
        t3 = time.perf_counter()
        total = t3 - t0
        print(f"[每日巡逻 #{i + 1}] {len(stationed)}名驻院民警，{len(points)}个巡逻点，{len(roster)}个班次，"
              f"{len(pp.visits)}次巡查，覆盖风险 {pp.covered_risk / max(pp.total_risk, 1e-9):.1%}；"
              f"点位 {t1 - t0:.2f} s，排班 {t2 - t1:.2f} s，LP {pp.solve_time_s:.2f} s，"
              f"LP+抽样 {t3 - t2:.2f} s，总计 {total:.2f} s（目标 ≤30 s：{'达成' if total <= 30 else '未达成'}）")


def bench_demo(scale: float, *, month: str = "2026-12", seed: int = 7) -> None:
    """CPU time of make_plan and of each export on a synthetic demo store of ``scale``."""
    import tempfile

    from core import settings

    with tempfile.TemporaryDirectory() as tmp:
        settings.configure(var_dir=Path(tmp))  # nothing of the benchmark lands in the real var/ directory
        from core.db import get_engine
        from core.trust.access import AccessScope
        from geo.io.demo import build_demo
        from planning.export.geojson import export_geojson
        from planning.export.ics import export_ics, export_ics_all
        from planning.export.pdf import export_pdf
        from planning.export.xlsx import export_xlsx
        from planning.plan import make_plan

        engine = get_engine(f"sqlite:///{tmp}/demo.sqlite")
        build_demo(engine, scale=scale, end="2026-11-22")
        t = time.process_time()
        plan = make_plan(engine, month=month, seed=seed)
        made = time.process_time() - t
        print(f"[演示库 ×{scale:g}] make_plan {made:.2f} s CPU（目标 ≤15 s：{'达成' if made <= 15 else '未达成'}），"
              f"{len(plan.visits)}次巡查，{plan.roster['officer_id'].nunique()}名驻院民警")
        scope = AccessScope(role="admin", username="bench")
        for name, fn in (("JSON", lambda: plan.to_json(scope=scope).encode("utf-8")),
                         ("PDF", lambda: export_pdf(plan, scope=scope)),
                         ("XLSX", lambda: export_xlsx(plan, scope=scope)),
                         ("GeoJSON", lambda: export_geojson(plan, scope=scope)),
                         ("ICS（每人一份）", lambda: export_ics_all(plan, scope=scope)),
                         ("ICS（合并）", lambda: export_ics(plan, scope=scope))):
            t = time.process_time()
            out = fn()
            took = time.process_time() - t
            size = sum(map(len, out.values())) if isinstance(out, dict) else len(out)
            goal = 5 if name == "PDF" else 10
            print(f"  导出 {name}：{took:.2f} s CPU，{size / 1e6:.1f} MB（目标 ≤{goal} s：{'达成' if took <= goal else '未达成'}）")
        # The campaign loop: store, approve, rebuild from the stored document (what officers' downloads use),
        # check in, and the reports.
        import datetime as dt

        from planning import lifecycle, reports
        from planning.checkins import record_checkin
        from planning.plan import plan_from_document

        cmd = AccessScope(role="commander", username="bench")
        for name, fn in (("保存草稿", lambda: lifecycle.save_draft(engine, plan, username="bench")),):
            t = time.perf_counter()
            pid = fn()
            print(f"  {name}：{time.perf_counter() - t:.2f} s")
        lifecycle.approve_plan(engine, pid, scope=cmd)
        t = time.perf_counter()
        doc = lifecycle.load_document(engine, pid)
        stored = plan_from_document(doc, engine=engine)
        print(f"  由存档重建方案：{time.perf_counter() - t:.2f} s")
        v = doc["visits"][0]
        me = AccessScope(role="officer", hospital_ids=frozenset({v["hospital_id"]}), officer_id=v["officer_id"],
                         username="o")
        t = time.perf_counter()
        record_checkin(engine, scope=me, plan_id=pid, visit_id=v["visit_id"], status="done",
                       actual_start=dt.datetime.fromisoformat(v["start"][:19]),
                       now=dt.datetime.fromisoformat(v["end"][:19]))
        print(f"  一次签到：{time.perf_counter() - t:.2f} s")
        for name, fn in (("PDF（存档方案，含审批栏）", lambda: export_pdf(stored, scope=cmd,
                                                               approval=lifecycle.plan_info(engine, pid))),
                         ("巡防完成情况", lambda: reports.dosage(engine, month=month)),
                         ("工作量化统计表 XLSX", lambda: reports.workload_xlsx(engine, period=month)),
                         ("月度通报 PDF", lambda: reports.bulletin_pdf(reports.monthly_bulletin(engine, month=month)))):
            t = time.perf_counter()
            fn()
            print(f"  {name}：{time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
