"""The demo's past patrol check-ins and action results (演示数据，合成), so every report has content.

For the last two complete months before the demo's end, every stationed officer gets a simple past
schedule (four visits on each working day at the registration hall, the outpatient gate and the
emergency entrance, the hall in the registration peak) checked in as done or, about one in twelve,
missed with a reason; every planted past action (meta ``demo_actions``) gets a commander's record of
its results with the units that took part. Everything is drawn from a seeded generator.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
from sqlalchemy import insert
from sqlalchemy.engine import Engine

#: Point ids and names of the past schedule (the fixed points of ``planning.patrols``).
_POINTS = (("reg", "挂号大厅"), ("main", "门诊南门"), ("er", "急诊入口"))
_REASONS = ("incident", "other_duty", "leave", "other")
_FINDINGS = ("秩序正常", "劝离倒号人员", "提醒患者防范医托", "发现可疑人员，已盘查", "协助处置纠纷")


def add_past_outcomes(
    engine: Engine,
    *,
    hospitals: pd.DataFrame,
    units: list[dict],
    officers: list[dict],
    actions: pd.DataFrame,
    end: pd.Timestamp,
    seed: int,
) -> dict:
    """Write past check-ins and action results into the demo store; returns their counts."""
    from core.db.schema import ActionResult, VisitCheckin

    rng = np.random.default_rng([int(seed), 13])
    month = pd.Period(end - pd.Timedelta(days=1), "M")
    if (end - pd.Timedelta(days=1)).date() != month.end_time.date():
        month -= 1  # only a complete month
    # Two months: the planted actions stop a month before the end, so the earlier month has both.
    days = pd.date_range((month - 1).start_time, month.end_time.normalize(), freq="D")
    reg_open = dict(zip(hospitals["hospital_id"], hospitals["reg_open"], strict=True))

    rows = []
    for k, o in enumerate(o for o in officers if o["hospital_id"] and str(o["unit_id"]).startswith("ZY-")):
        hid = o["hospital_id"]
        h0, m0 = map(int, str(reg_open.get(hid, "07:00")).split(":"))
        for day in days:
            if (day.day_of_year + k) % 7 < 2:  # two rest days a week
                continue
            early = (day.day_of_year + k) % 2 == 0
            base = [h0 * 60 + m0 - 20, 10 * 60 + 30, 14 * 60, 15 * 60 + 30] if early else [13 * 60, 15 * 60, 17 * 60,
                                                                                            19 * 60]
            for j, minute in enumerate(base):
                minute += int(rng.integers(0, 20))
                pid, pname = _POINTS[0] if (j == 0 and early) else _POINTS[int(rng.integers(0, 3))]
                start = day.to_pydatetime() + dt.timedelta(minutes=minute)
                missed = rng.random() < 0.08
                row = {"plan_id": None, "visit_id": "", "hospital_id": hid, "point_id": f"{hid}-{pid}",
                       "point_name": pname, "officer_id": o["id"], "planned_start": start,
                       "planned_end": start + dt.timedelta(minutes=14), "peak": bool(j == 0 and early),
                       "status": "missed" if missed else "done",
                       "reason": str(rng.choice(_REASONS)) if missed else "",
                       "actual_start": None if missed else start + dt.timedelta(minutes=int(rng.integers(-5, 9))),
                       "findings": "" if missed else str(rng.choice(_FINDINGS)),
                       "persons_checked": 0 if missed else int(rng.poisson(0.6)),
                       "scalpers_caught": 0 if missed else int(rng.random() < 0.02),
                       "touts_caught": 0 if missed else int(rng.random() < 0.015),
                       "warned_away": 0 if missed else int(rng.poisson(0.3)),
                       "cases_handed_over": 0, "username": "demo", "at": start + dt.timedelta(minutes=30),
                       "updated_at": None}
                rows.append(row)
    stations = {}
    for u in units:
        if u["kind"] == "station":
            stations.setdefault(u["district"], []).append(u)
    district = dict(zip(hospitals["hospital_id"], hospitals["district"], strict=True))
    results = []
    for a in actions.itertuples(index=False):
        start = pd.Timestamp(a.start)
        start = start.tz_localize(None) if start.tzinfo is None else start.tz_convert("Asia/Shanghai").tz_localize(None)
        if start >= end.tz_localize(None) if end.tzinfo else start >= end:
            continue
        sta = stations.get(district.get(a.hospital_id), [])
        n = int(a.officers)
        own = min(3, n)
        us = [{"unit_id": f"ZY-{a.hospital_id}", "name": "驻院警务室", "officers": own}]
        if sta:
            us.append({"unit_id": sta[0]["id"], "name": sta[0]["name"], "officers": n - own})
        checked = int(rng.integers(20, 80))
        results.append({"plan_id": None, "hospital_id": a.hospital_id, "date": start.date(), "officers": n,
                        "units": json.dumps(us, ensure_ascii=False), "persons_checked": checked,
                        "scalpers_caught": int(rng.integers(0, 6)), "touts_caught": int(rng.integers(0, 4)),
                        "warned_away": int(rng.integers(3, 25)), "cases_handed_over": int(rng.integers(0, 3)),
                        "note": "演示数据（合成）", "username": "demo", "at": start.to_pydatetime() + dt.timedelta(hours=5),
                        "updated_at": None})
    results = list({(r["hospital_id"], r["date"]): r for r in results}.values())
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(VisitCheckin), rows)
        if results:
            conn.execute(insert(ActionResult), results)

    return {"checkins": len(rows), "missed": sum(r["status"] == "missed" for r in rows), "action_results": len(results),
            "months": [str(month - 1), str(month)]}
