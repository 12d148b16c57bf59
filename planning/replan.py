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

import pandas as pd
from sqlalchemy.engine import Engine

from planning.actions import ActionLock
from planning.plan import Plan, make_plan

EDIT_KINDS = ("lock", "move", "forces", "absent")


@dataclass(frozen=True)
class Edit:
    """One edit.

    Parameters
    ----------
    kind
        ``lock`` (keep the action as it is), ``move`` (new ``start``, optional ``hours``),
        ``forces`` (officers per unit id in ``forces``) or ``absent`` (``officer_id`` on ``dates``).
    """

    kind: str
    hospital_id: str | None = None
    start: pd.Timestamp | None = None
    hours: int | None = None
    forces: Mapping[str, int] | None = None
    officer_id: str | None = None
    dates: tuple[dt.date, ...] = ()
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
    """

    plan: Plan
    changed_actions: pd.DataFrame
    visits_kept: int
    visits_changed: int
    action_risk_cost: float
    patrol_risk_cost: float
    message: str = ""
    edits: list[Edit] = field(default_factory=list)


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
        else:
            absences.setdefault(e.officer_id, set()).update(pd.Timestamp(d).date() for d in e.dates)
    # Availability overrides from earlier absences are re-derived from the absences.
    new = make_plan(
        engine, month=plan.month, seed=plan.seed, hospital_ids=plan.listed,
        blocked_dates=plan.params.get("blocked_dates", []), unified_day=plan.params.get("unified_day", False),
        locks=list(locks.values()), absences=absences, previous=plan, points=plan.points,
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
    return ReplanResult(new, changed, kept, len(new_v) - kept, act_cost, pat_cost, msg, edits)


def record_edits(engine: Engine, plan_id: int, edits: Iterable[Edit], *, username: str = "") -> None:
    """Store ``edits`` of stored plan ``plan_id`` and record them in the audit trail."""
    from core.db import session_scope
    from core.db.schema import PlanEdit
    from core.trust.audit import record
    edits = list(edits)
    with session_scope(engine) as s:
        for e in edits:
            payload = {
                "hospital_id": e.hospital_id, "start": None if e.start is None else pd.Timestamp(e.start).isoformat(),
                "hours": e.hours, "forces": dict(e.forces) if e.forces else None, "officer_id": e.officer_id,
                "dates": [str(d) for d in e.dates],
            }
            s.add(PlanEdit(plan_id=plan_id, kind=e.kind, payload=json.dumps(payload, ensure_ascii=False), note=e.note,
                           username=username, at=dt.datetime.now()))
    record("plan_edit", username=username, engine=engine,
           detail=f"方案{plan_id}调整{len(edits)}项：" + "、".join(e.kind for e in edits))
