"""An independent checker of plan.json (docs/plan_json.md).

Written against the documented format only: it imports nothing from ``planning`` and
recomputes every rule from the JSON itself, so a bug in the planner cannot hide here.
``check_plan(doc)`` returns a list of human-readable violations (empty = valid).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from typing import Any


def _t(s: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(s)
    if t.tzinfo is None or t.utcoffset() != dt.timedelta(hours=8):
        raise ValueError(f"time {s!r} lacks the +08:00 offset")
    return t


def _hm(s: str) -> int:
    h, m = s.split(":")
    return int(h) * 60 + int(m)


def check_plan(doc: dict[str, Any]) -> list[str]:
    """All broken constraints of a plan document."""
    errs: list[str] = []
    rules = doc["rules"]
    vmin, vmax = rules["visit_minutes"]
    max_gap = dt.timedelta(minutes=rules["max_revisit_minutes"])

    # ---------------------------------------------------------------- times parse with offset
    for key in ("actions", "visits", "shifts", "peak_guarantees"):
        for item in doc[key]:
            for f in ("start", "end"):
                try:
                    _t(item[f])
                except ValueError as exc:
                    errs.append(f"{key}: {exc}")
    if errs:
        return errs

    # ---------------------------------------------------------------- actions and forces
    units = {u["unit_id"]: u for u in doc["units"]}
    avail = {(a["unit_id"], a["date"]): a["available"] for a in doc["availability"]}
    blocked = set(rules["blocked_dates"])
    used: dict[tuple[str, str], int] = defaultdict(int)
    seen_h = set()
    for a in doc["actions"]:
        if a["hospital_id"] in seen_h:
            errs.append(f"hospital {a['hospital_id']} has more than one action")
        seen_h.add(a["hospital_id"])
        if a["date"] in blocked and not a["locked"]:
            errs.append(f"action of {a['hospital_id']} on blocked date {a['date']}")
        s, e = _t(a["start"]), _t(a["end"])
        if e <= s or s.date().isoformat() != a["date"]:
            errs.append(f"action of {a['hospital_id']} has bad times {a['start']}..{a['end']}")
        total = sum(u["officers"] for u in a["units"])
        if total != a["officers"]:
            errs.append(f"action of {a['hospital_id']}: units sum {total} != officers {a['officers']}")
        if not a["locked"] and not a["min_officers"] <= total <= a["max_officers"]:
            errs.append(f"action of {a['hospital_id']}: {total} officers outside [{a['min_officers']}, {a['max_officers']}]")
        for u in a["units"]:
            if u["unit_id"] not in units:
                errs.append(f"action of {a['hospital_id']} uses unknown unit {u['unit_id']}")
                continue
            used[(u["unit_id"], a["date"])] += u["officers"]
    for (uid, date), n in used.items():
        cap = avail.get((uid, date), units[uid]["available_per_day"])
        if n > cap:
            errs.append(f"unit {uid} sends {n} officers on {date}, only {cap} available")
    if rules.get("unified_day") and len({a["date"] for a in doc["actions"]}) > 1:
        errs.append("actions are not on one unified day")

    # ---------------------------------------------------------------- shifts
    officer_h = {o["officer_id"]: o["hospital_id"] for o in doc["officers"]}
    shifts: dict[tuple[str, str], dict] = {}
    work_days: dict[str, list[dt.date]] = defaultdict(list)
    hours_by_day: dict[str, dict[dt.date, float]] = defaultdict(dict)
    for s in doc["shifts"]:
        key = (s["officer_id"], s["date"])
        if key in shifts:
            errs.append(f"officer {s['officer_id']} has two shifts on {s['date']}")
        shifts[key] = s
        start, end = _t(s["start"]), _t(s["end"])
        m0, m1 = _t(s["meal_start"]), _t(s["meal_end"])
        if not (start <= m0 < m1 <= end):
            errs.append(f"meal break of {s['officer_id']} on {s['date']} outside the shift")
        tmpl = rules["shifts"][s["shift"]]
        if not (_hm(tmpl[2]) <= m0.hour * 60 + m0.minute and m1.hour * 60 + m1.minute <= _hm(tmpl[3])):
            errs.append(f"meal break of {s['officer_id']} on {s['date']} outside the meal window")
        hours = ((end - start) - (m1 - m0)).total_seconds() / 3600
        if hours > rules["max_hours_day"] + 1e-9:
            errs.append(f"officer {s['officer_id']} works {hours:.1f} h on {s['date']}")
        d = dt.date.fromisoformat(s["date"])
        work_days[s["officer_id"]].append(d)
        hours_by_day[s["officer_id"]][d] = hours
    max_work = 7 - rules["rest_days_per_week"]
    for oid, ds in work_days.items():
        ds = sorted(ds)
        for d in ds:
            window = [x for x in ds if d <= x < d + dt.timedelta(days=7)]
            if len(window) > max_work:
                errs.append(f"officer {oid} works {len(window)} days in the 7 days from {d}")
                break
            wk_hours = sum(hours_by_day[oid][x] for x in window)
            if wk_hours > rules["max_hours_week"] + 1e-9:
                errs.append(f"officer {oid} works {wk_hours:.1f} h in the 7 days from {d}")
                break

    # ---------------------------------------------------------------- visits
    points = {p["point_id"]: p for p in doc["points"]}
    by_officer: dict[str, list[tuple[dt.datetime, dt.datetime, str]]] = defaultdict(list)
    by_point: dict[str, list[dt.datetime]] = defaultdict(list)
    action_at = {a["hospital_id"]: (_t(a["start"]), _t(a["end"])) for a in doc["actions"]
                 if any(units.get(u["unit_id"], {}).get("kind") == "stationed" for u in a["units"])}
    for v in doc["visits"]:
        s, e = _t(v["start"]), _t(v["end"])
        minutes = (e - s).total_seconds() / 60
        if not vmin <= minutes <= vmax:
            errs.append(f"visit {v['visit_id']} lasts {minutes:.0f} min")
        p = points.get(v["point_id"])
        if p is None or p["hospital_id"] != v["hospital_id"]:
            errs.append(f"visit {v['visit_id']} at unknown point {v['point_id']}")
        if officer_h.get(v["officer_id"]) != v["hospital_id"]:
            errs.append(f"visit {v['visit_id']}: officer {v['officer_id']} is not stationed at {v['hospital_id']}")
        sh = shifts.get((v["officer_id"], s.date().isoformat()))
        if sh is None:
            errs.append(f"visit {v['visit_id']}: officer {v['officer_id']} has no shift that day")
        else:
            if not (_t(sh["start"]) <= s and e <= _t(sh["end"])):
                errs.append(f"visit {v['visit_id']} outside the shift of {v['officer_id']}")
            if s < _t(sh["meal_end"]) and _t(sh["meal_start"]) < e:
                errs.append(f"visit {v['visit_id']} during the meal break of {v['officer_id']}")
        act = action_at.get(v["hospital_id"])
        if act and s < act[1] and act[0] < e:
            errs.append(f"visit {v['visit_id']} overlaps the action its stationed team serves in")
        by_officer[v["officer_id"]].append((s, e, v["visit_id"]))
        by_point[v["point_id"]].append(s)
    for oid, vs in by_officer.items():
        vs.sort()
        for (_s0, e0, a), (s1, _e1, b) in itertools.pairwise(vs):
            if s1 < e0:
                errs.append(f"officer {oid} in two places: visits {a} and {b} overlap")

    # ---------------------------------------------------------------- peak revisits
    for g in doc["peak_guarantees"]:
        ws, we = _t(g["start"]), _t(g["end"])
        starts = sorted(t for t in by_point[g["point_id"]] if ws <= t < we)
        marks = [ws, *starts, we]
        worst = max((b - a for a, b in itertools.pairwise(marks)), default=we - ws)
        if worst > max_gap:
            errs.append(f"point {g['point_id']} {g['start']}..{g['end']}: gap of {worst} without a visit")
    return errs
