"""Edits of a plan and re-planning with minimal change.

A commander locks or moves an action, changes its forces or marks an officer absent. The
plan is solved again with the same seed, the locked items fixed, and the previous plan's
days and forces kept wherever the constraints allow (the action MILP puts minimal change
before risk). Patrol draws are seeded per hospital and day, so days and hospitals the edit
does not touch keep their visits. The result reports what changed and what the edit costs
in covered risk.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from core import settings
from planning.actions import ActionLock
from planning.plan import Plan, make_plan

EDIT_KINDS = ("lock", "move", "forces", "absent", "point_add", "point_suppress")
#: Chinese names of the edit kinds.
EDIT_LABELS = {"lock": "锁定行动", "move": "调整行动时间", "forces": "调整警力", "absent": "民警请假",
               "point_add": "增加巡逻点", "point_suppress": "停用巡逻点"}


@dataclass(frozen=True)
class Edit:
    """One edit.

    Parameters
    ----------
    kind
        ``lock`` (keep the action as it is), ``move`` (new ``start``, optional ``hours``),
        ``forces`` (officers per unit id in ``forces``), ``absent`` (``officer_id`` on ``dates``),
        ``point_add`` (a patrol point ``name`` at ``lon``/``lat`` of ``hospital_id``, optional
        ``peak_windows`` "HH:MM-HH:MM") or ``point_suppress`` (``point_id``).
    """

    kind: str
    hospital_id: str | None = None
    start: pd.Timestamp | None = None
    hours: int | None = None
    forces: Mapping[str, int] | None = None
    officer_id: str | None = None
    dates: tuple[dt.date, ...] = ()
    point_id: str | None = None
    name: str | None = None
    lon: float | None = None
    lat: float | None = None
    peak_windows: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EDIT_KINDS:
            raise ValueError(f"`kind` must be one of {list(EDIT_KINDS)}, got {self.kind!r}.")
        if self.kind in ("lock", "move", "forces") and not self.hospital_id:
            raise ValueError(f"A {self.kind!r} edit needs `hospital_id`.")
        if self.kind == "move" and self.start is None:
            raise ValueError("A 'move' edit needs `start`.")
        if self.kind == "forces" and not self.forces:
            raise ValueError("A 'forces' edit needs `forces` (officers per unit id).")
        if self.kind == "absent" and (not self.officer_id or not self.dates):
            raise ValueError("An 'absent' edit needs `officer_id` and `dates`.")
        if self.kind == "point_add" and (not self.hospital_id or not self.name or self.lon is None or self.lat is None):
            raise ValueError("A 'point_add' edit needs `hospital_id`, `name`, `lon` and `lat`.")
        if self.kind == "point_suppress" and not self.point_id:
            raise ValueError("A 'point_suppress' edit needs `point_id`.")

    def describe(self, hospital_name=lambda h: h) -> str:
        """One line in Chinese saying what the edit does."""
        h = hospital_name(self.hospital_id) if self.hospital_id else ""
        if self.kind == "lock":
            return f"锁定{h}集中行动"
        if self.kind == "move":
            return f"{h}集中行动改到{pd.Timestamp(self.start):%m-%d %H:%M}" + (f"（{self.hours}小时）" if self.hours else "")
        if self.kind == "forces":
            return f"{h}集中行动警力改为" + "、".join(f"{k}{v}人" for k, v in (self.forces or {}).items())
        if self.kind == "absent":
            return f"民警{self.officer_id}请假{len(self.dates)}天"
        if self.kind == "point_add":
            return f"{h}增加巡逻点“{self.name}”"
        return f"停用巡逻点{self.point_id}"


@dataclass
class ReplanResult:
    """The re-planned plan and what the edits changed and cost.

    Attributes
    ----------
    plan
        The new plan.
    changed_actions
        hospital_id, old/new date, start and officers of every action that changed.
    visits_kept, visits_changed
        Visits identical in both plans (officer, point, start) and visits of the new plan
        that are new.
    action_risk_cost, patrol_risk_cost
        Covered risk (expected incidents) lost by the edit: old minus new (negative = gain).
    message
        Chinese summary.
    predictability
        Per hospital: entropy share of the visits before and after (:func:`visit_entropy`).
    warnings
        Chinese warnings (patrols that became predictable).
    """

    plan: Plan
    changed_actions: pd.DataFrame
    visits_kept: int
    visits_changed: int
    action_risk_cost: float
    patrol_risk_cost: float
    message: str = ""
    edits: list[Edit] = field(default_factory=list)
    predictability: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)


def visit_entropy(visits: pd.DataFrame, points: pd.DataFrame) -> pd.Series:
    """Per hospital, how unpredictable its visits are, in [0, 1].

    Two Shannon entropies of the month's visits, each divided by its largest possible value: over
    the hospital's patrol points (``log(points)``, all points in ``points``, suppressed ones
    included, so dropping points lowers it) and over the half-hours of the day
    (``log(half-hours)``). The smaller of the two is returned: 1 means visits spread evenly over
    every point and every time; a low value means an observer can tell where, or when, officers
    will be.
    """
    if visits.empty:
        return pd.Series(dtype=float, name="entropy_share")
    from planning.patrols import _slot_grid

    local = visits["start"].dt.tz_convert(settings.TIMEZONE)
    cell = (local.dt.hour * 60 + local.dt.minute) // settings.PATROL_SLOT_MIN
    df = pd.DataFrame({"hospital_id": visits["hospital_id"].to_numpy(), "point_id": visits["point_id"].to_numpy(),
                       "cell": cell.to_numpy()})

    def share(col: str, k: pd.Series) -> pd.Series:
        counts = df.groupby(["hospital_id", col]).size()
        p = counts / counts.groupby(level="hospital_id").transform("sum")
        h = -(p * np.log(p)).groupby(level="hospital_id").sum()
        return h / np.log(k.reindex(h.index).fillna(2).clip(lower=2))

    n_points = points.groupby("hospital_id")["point_id"].nunique()
    n_slots = pd.Series(len(_slot_grid()), index=n_points.index)
    return np.minimum(share("point_id", n_points), share("cell", n_slots)).rename("entropy_share")


def replan(plan: Plan, edits: Iterable[Edit], *, engine: Engine | None = None) -> ReplanResult:
    """Apply ``edits`` to ``plan`` and re-plan with minimal change.

    Locks already in ``plan`` are kept. Raises :class:`planning.plan.PlanInfeasibleError`
    (a ValueError, message in Chinese) when the edits leave no feasible plan.
    """
    engine = engine or plan.engine
    if engine is None:
        raise ValueError("`engine` is required: the plan carries no store.")
    edits = list(edits)
    locks = {lk.hospital_id: lk for lk in plan.params.get("locks", [])}
    absences = {k: set(v) for k, v in (plan.params.get("absences") or {}).items()}
    acts = plan.actions.set_index("hospital_id")
    points = plan.points
    for e in edits:
        if e.kind in ("lock", "move", "forces") and e.hospital_id not in acts.index:
            raise ValueError(f"`hospital_id` {e.hospital_id!r} has no action in this plan.")
        if e.kind == "lock":
            a = acts.loc[e.hospital_id]
            f = plan.forces[plan.forces["hospital_id"] == e.hospital_id]
            locks[e.hospital_id] = ActionLock(e.hospital_id, start=a["start"], hours=int(a["hours"]),
                                              forces=dict(zip(f["unit_id"], f["officers"].astype(int), strict=True)))
        elif e.kind == "move":
            old = locks.get(e.hospital_id)
            locks[e.hospital_id] = ActionLock(e.hospital_id, start=pd.Timestamp(e.start),
                                              hours=e.hours or int(acts.loc[e.hospital_id, "hours"]),
                                              forces=old.forces if old else None)
        elif e.kind == "forces":
            old = locks.get(e.hospital_id)
            a = acts.loc[e.hospital_id]
            locks[e.hospital_id] = ActionLock(e.hospital_id, start=old.start if old else a["start"],
                                              hours=old.hours if old else int(a["hours"]),
                                              forces={k: int(v) for k, v in e.forces.items()})
        elif e.kind == "absent":
            absences.setdefault(e.officer_id, set()).update(pd.Timestamp(d).date() for d in e.dates)
        elif e.kind == "point_suppress":
            if e.point_id not in set(points["point_id"]):
                raise ValueError(f"`point_id` {e.point_id!r} is not a patrol point of this plan.")
            points = points[points["point_id"] != e.point_id]
        else:
            points = _add_point(points, e)
    # Availability overrides from earlier absences are re-derived from the absences.
    new = make_plan(
        engine, month=plan.month, seed=plan.seed, hospital_ids=plan.listed,
        blocked_dates=plan.params.get("blocked_dates", []), unified_day=plan.params.get("unified_day", False),
        locks=list(locks.values()), absences=absences, previous=plan, points=points.reset_index(drop=True),
        weekday_risk=plan.params.get("weekday_risk"),
    )
    old_a = plan.actions[["hospital_id", "date", "start", "officers"]]
    new_a = new.actions[["hospital_id", "date", "start", "officers"]]
    m = old_a.merge(new_a, on="hospital_id", suffixes=("_old", "_new"))
    changed = m[(m["start_old"] != m["start_new"]) | (m["officers_old"] != m["officers_new"])].reset_index(drop=True)
    key = ["officer_id", "point_id", "start"]
    old_v = set(map(tuple, plan.visits[key].astype(str).to_numpy()))
    new_v = set(map(tuple, new.visits[key].astype(str).to_numpy()))
    kept = len(old_v & new_v)
    act_cost = float(plan.actions["covered_risk"].sum() - new.actions["covered_risk"].sum())
    pat_cost = float(plan.patrol_result.covered_risk - new.patrol_result.covered_risk)
    msg = (
        f"已按{len(edits)}项调整重新排班：{len(changed)}次集中行动有变化，"
        f"巡查保持{kept}次、新增或调整{len(new_v) - kept}次；"
        f"集中行动覆盖风险{'减少' if act_cost >= 0 else '增加'}{abs(act_cost):.2f}，"
        f"巡逻覆盖风险{'减少' if pat_cost >= 0 else '增加'}{abs(pat_cost):.2f}（期望警情数）。"
    )
    all_points = pd.concat([plan.points, new.points], ignore_index=True).drop_duplicates("point_id")
    before = visit_entropy(plan.visits, all_points)
    after = visit_entropy(new.visits, all_points)
    pred = pd.DataFrame({"before": before, "after": after}).reindex(sorted(set(before.index) | set(after.index)))
    threshold = settings.PATROL_MIN_ENTROPY_SHARE
    warnings = [
        f"{plan.hospital_name(h)}的巡查变得容易预测（分散度{r.after:.0%}，调整前{r.before:.0%}，"
        f"低于{threshold:.0%}）：巡查集中在少数点位和时段，建议恢复点位或减少锁定。"
        for h, r in pred.iterrows()
        if np.isfinite(r.after) and r.after < threshold and (not np.isfinite(r.before) or r.after < r.before - 0.02)
    ]
    return ReplanResult(new, changed, kept, len(new_v) - kept, act_cost, pat_cost, msg, edits, pred, warnings)


def _add_point(points: pd.DataFrame, e: Edit) -> pd.DataFrame:
    """``points`` with the point of a ``point_add`` edit (its risk share: the hospital's mean, renormalised)."""
    mine = points[points["hospital_id"] == e.hospital_id]
    if mine.empty:
        raise ValueError(f"`hospital_id` {e.hospital_id!r} has no patrol points in this plan.")
    k = 1 + sum(pid.startswith(f"{e.hospital_id}-U") for pid in mine["point_id"])
    row = {"point_id": f"{e.hospital_id}-U{k}", "hospital_id": e.hospital_id, "name": e.name, "kind": "added",
           "lon": float(e.lon), "lat": float(e.lat), "share": float(mine["share"].mean()),
           "hot": bool(e.peak_windows), "peak_windows": list(e.peak_windows)}
    out = pd.concat([points, pd.DataFrame([row])], ignore_index=True)
    sel = out["hospital_id"] == e.hospital_id
    out.loc[sel, "share"] = out.loc[sel, "share"] / out.loc[sel, "share"].sum()
    return out


def edit_payload(e: Edit) -> dict:
    """The JSON-ready fields of an edit."""
    return {
        "hospital_id": e.hospital_id, "start": None if e.start is None else pd.Timestamp(e.start).isoformat(),
        "hours": e.hours, "forces": dict(e.forces) if e.forces else None, "officer_id": e.officer_id,
        "dates": [str(d) for d in e.dates], "point_id": e.point_id, "name": e.name, "lon": e.lon, "lat": e.lat,
        "peak_windows": list(e.peak_windows),
    }


def save_replan(engine: Engine, plan_id: int, result: ReplanResult, *, username: str, why: str = "") -> int:
    """Store the re-planned plan of ``result`` as a new draft whose parent is ``plan_id``.

    Every edit is stored (who, when, why, what it cost in covered risk, the new plan's id) and
    audited as ``plan_edit``; the parent draft becomes ``superseded``. Returns the new plan id.
    """
    from core.db import session_scope
    from core.db.schema import PlanEdit
    from core.trust.audit import record
    from planning.lifecycle import save_draft

    new_id = save_draft(engine, result.plan, username=username, parent_id=plan_id)
    now = pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).floor("s").to_pydatetime()
    with session_scope(engine) as s:
        for e in result.edits:
            payload = edit_payload(e) | {
                "new_plan_id": new_id, "action_risk_cost": round(result.action_risk_cost, 4),
                "patrol_risk_cost": round(result.patrol_risk_cost, 4), "warnings": result.warnings,
            }
            s.add(PlanEdit(plan_id=plan_id, kind=e.kind, payload=json.dumps(payload, ensure_ascii=False),
                           note=e.note or why, username=username, at=now))
    name = result.plan.hospital_name
    record("plan_edit", username=username, engine=engine,
           detail=f"方案{plan_id}调整{len(result.edits)}项（" + "；".join(e.describe(name) for e in result.edits)
           + f"）→ 新草稿方案{new_id}；集中行动覆盖风险变化{-result.action_risk_cost:+.2f}，"
           f"巡逻覆盖风险变化{-result.patrol_risk_cost:+.2f}" + (f"；原因：{why}" if why else ""))
    return new_id


def plan_edits(engine: Engine, plan_id: int | None = None) -> pd.DataFrame:
    """Stored edits (of ``plan_id``, or all): plan_id, kind, label, note, username, at, new_plan_id, costs."""
    from sqlalchemy import select

    from core.db.schema import PlanEdit

    q = select(PlanEdit)
    if plan_id is not None:
        q = q.where(PlanEdit.plan_id == int(plan_id))
    with engine.connect() as conn:
        df = pd.read_sql(q.order_by(PlanEdit.id), conn)
    if df.empty:
        return pd.DataFrame(columns=["plan_id", "kind", "label", "note", "username", "at", "new_plan_id",
                                     "action_risk_cost", "patrol_risk_cost"])
    payload = df["payload"].map(json.loads)
    df["label"] = df["kind"].map(lambda k: EDIT_LABELS.get(k, k))
    for k in ("new_plan_id", "action_risk_cost", "patrol_risk_cost"):
        df[k] = payload.map(lambda p, k=k: p.get(k))
    return df[["plan_id", "kind", "label", "note", "username", "at", "new_plan_id", "action_risk_cost",
               "patrol_risk_cost"]]


def record_edits(engine: Engine, plan_id: int, edits: Iterable[Edit], *, username: str = "") -> None:
    """Store ``edits`` of stored plan ``plan_id`` and record them in the audit trail (no new plan stored;
    :func:`save_replan` stores the edited plan with its edits)."""
    from core.db import session_scope
    from core.db.schema import PlanEdit
    from core.trust.audit import record
    edits = list(edits)
    with session_scope(engine) as s:
        for e in edits:
            payload = edit_payload(e)
            s.add(PlanEdit(plan_id=plan_id, kind=e.kind, payload=json.dumps(payload, ensure_ascii=False), note=e.note,
                           username=username, at=dt.datetime.now()))
    record("plan_edit", username=username, engine=engine,
           detail=f"方案{plan_id}调整{len(edits)}项：" + "、".join(e.kind for e in edits))
