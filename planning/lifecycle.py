"""The life of a stored plan: draft → approved (by a commander) → in effect → closed.

A plan made by :func:`planning.plan.make_plan` is stored as a **draft** (:func:`save_draft`).
Edits (:mod:`planning.replan`) store the edited plan as a new draft whose parent is the old one,
which is then ``superseded``. A commander **approves** a draft (:func:`approve_plan`): the SHA-256
of its plan.json and of any files issued with it are kept and written to the audit trail. An
approved plan is **in effect** while its month runs and **closed** after it (or when closed by
hand, :func:`close_plan`). Only approved plans reach evaluation, statistics and the meeting
screen (:func:`approved_plan_id`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import settings
from core.trust.access import AccessScope, require

#: Stored statuses.
STATUSES = ("draft", "approved", "closed", "superseded")
#: Chinese labels of the states shown to users (stored statuses plus the derived ones).
STATE_LABELS = {
    "draft": "草稿（待审批）",
    "approved": "已批准（待生效）",
    "in_effect": "执行中",
    "closed": "已结束",
    "superseded": "已被新版本替代",
}
#: Roles that may approve, edit or close plans.
APPROVER_ROLES = ("commander",)


@dataclass(frozen=True)
class PlanInfo:
    """One stored plan and where it is in its life."""

    plan_id: int
    month: str
    seed: int
    status: str
    state: str
    created_at: dt.datetime
    username: str
    parent_id: int | None
    approved_by: str = ""
    approved_at: dt.datetime | None = None
    sha256: str = ""

    @property
    def state_label(self) -> str:
        """Chinese label of :attr:`state`."""
        return STATE_LABELS[self.state]


def today() -> dt.date:
    """Today's date in ``settings.TIMEZONE``."""
    return pd.Timestamp.now(tz=settings.TIMEZONE).date()


def _now() -> dt.datetime:
    return pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).floor("s").to_pydatetime()


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of "YYYY-MM"."""
    p = pd.Period(month, "M")
    return p.start_time.date(), p.end_time.date()


def plan_state(status: str, month: str, *, on: dt.date | None = None) -> str:
    """The state of a plan with stored ``status`` of ``month`` on date ``on`` (default today)."""
    if status not in STATUSES:
        raise ValueError(f"`status` must be one of {list(STATUSES)}, got {status!r}.")
    if status != "approved":
        return status
    first, last = month_bounds(month)
    on = on or today()
    if on < first:
        return "approved"
    return "in_effect" if on <= last else "closed"


def sha256_text(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_draft(engine: Engine, plan, *, username: str = "", parent_id: int | None = None) -> int:
    """Store ``plan`` as a draft and return its id (audited as ``plan_draft``)."""
    from core.db import session_scope
    from core.db.schema import PlanStatus
    from core.trust.audit import record
    from planning.plan import save_plan

    pid = save_plan(engine, plan, username=username, parent_id=parent_id)
    with session_scope(engine) as s:
        s.add(PlanStatus(plan_id=pid, status="draft"))
        if parent_id is not None:
            old = s.get(PlanStatus, parent_id)
            if old is not None and old.status == "draft":
                old.status = "superseded"
    record("plan_draft", username=username, engine=engine,
           detail=f"{plan.month} 方案{pid}（草稿）" + (f"，由方案{parent_id}调整而来" if parent_id else ""))
    return pid


def _info(rec, st) -> PlanInfo:
    status = st.status if st is not None else "approved"  # plans stored before the lifecycle existed
    return PlanInfo(
        plan_id=int(rec.id), month=rec.month, seed=int(rec.seed), status=status,
        state=plan_state(status, rec.month), created_at=rec.created_at, username=rec.username,
        parent_id=rec.parent_id, approved_by=st.approved_by if st else "", approved_at=st.approved_at if st else None,
        sha256=st.sha256 if st else "",
    )


def plan_info(engine: Engine, plan_id: int) -> PlanInfo:
    """The stored plan ``plan_id`` and its state; raises ``KeyError`` when unknown."""
    from core.db import session_scope
    from core.db.schema import PlanRecord, PlanStatus

    with session_scope(engine) as s:
        rec = s.get(PlanRecord, int(plan_id))
        if rec is None:
            raise KeyError(f"方案{plan_id}不存在。")
        return _info(rec, s.get(PlanStatus, int(plan_id)))


def list_plans(engine: Engine, *, month: str | None = None) -> list[PlanInfo]:
    """Stored plans (newest first), optionally of one month."""
    from core.db import session_scope
    from core.db.schema import PlanRecord, PlanStatus

    q = select(PlanRecord, PlanStatus).outerjoin(PlanStatus, PlanStatus.plan_id == PlanRecord.id)
    if month is not None:
        q = q.where(PlanRecord.month == month)
    with session_scope(engine) as s:
        return [_info(rec, st) for rec, st in s.execute(q.order_by(PlanRecord.id.desc())).all()]


def approved_plan_id(engine: Engine, month: str) -> int | None:
    """Id of the plan of ``month`` that was approved (in effect or closed), or None.

    Plans stored before the lifecycle existed (no status row) count as approved, as release 0.1
    stored plans only on approval.
    """
    for p in list_plans(engine, month=month):
        if p.status in ("approved", "closed"):
            return p.plan_id
    return None


def load_document(engine: Engine, plan_id: int) -> dict:
    """The stored plan.json of ``plan_id`` as a dict."""
    from core.db import session_scope
    from core.db.schema import PlanRecord

    with session_scope(engine) as s:
        rec = s.get(PlanRecord, int(plan_id))
        if rec is None:
            raise KeyError(f"方案{plan_id}不存在。")
        return json.loads(rec.body)


def approve_plan(
    engine: Engine,
    plan_id: int,
    *,
    scope: AccessScope,
    files: Mapping[str, bytes] | None = None,
    note: str = "",
) -> PlanInfo:
    """Approve draft ``plan_id`` (commanders only).

    The SHA-256 of the stored plan.json and of ``files`` (name -> bytes, e.g. the PDF handed out)
    are kept with the approval and written to the audit trail under ``plan_approve``. An earlier
    approved plan of the same month is marked ``superseded``.

    Raises
    ------
    PermissionError
        When ``scope`` is not a commander.
    ValueError
        When the plan is not a draft.
    """
    from core.db import session_scope
    from core.db.schema import PlanRecord, PlanStatus
    from core.trust.audit import record

    require(scope, roles=APPROVER_ROLES)
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in (files or {}).items()}
    with session_scope(engine) as s:
        rec = s.get(PlanRecord, int(plan_id))
        if rec is None:
            raise KeyError(f"方案{plan_id}不存在。")
        st = s.get(PlanStatus, int(plan_id))
        if st is None or st.status != "draft":
            raise ValueError(f"方案{plan_id}不是草稿（{STATE_LABELS.get(st.status if st else 'approved')}），不能再次批准。")
        digest = sha256_text(rec.body)
        month = rec.month
        others = s.execute(
            select(PlanStatus).join(PlanRecord, PlanRecord.id == PlanStatus.plan_id)
            .where(PlanRecord.month == month, PlanStatus.status == "approved", PlanStatus.plan_id != rec.id)
        ).scalars().all()
        for o in others:
            o.status = "superseded"
        st.status, st.approved_by, st.approved_at = "approved", scope.username, _now()
        st.sha256, st.files_sha256, st.note = digest, json.dumps(hashes, ensure_ascii=False), note
    files_txt = "；".join(f"{k} {v}" for k, v in hashes.items())
    record("plan_approve", username=scope.username, engine=engine, data=None,
           detail=f"{month} 方案{plan_id} 批准；plan.json SHA-256 {digest}" + (f"；{files_txt}" if files_txt else "")
           + (f"；{note}" if note else ""))
    return plan_info(engine, plan_id)


def close_plan(engine: Engine, plan_id: int, *, scope: AccessScope, note: str = "") -> PlanInfo:
    """Close approved plan ``plan_id`` by hand (commanders only; audited as ``plan_close``)."""
    from core.db import session_scope
    from core.db.schema import PlanStatus
    from core.trust.audit import record

    require(scope, roles=APPROVER_ROLES)
    with session_scope(engine) as s:
        st = s.get(PlanStatus, int(plan_id))
        if st is None or st.status != "approved":
            raise ValueError(f"方案{plan_id}未处于已批准状态，不能关闭。")
        st.status, st.closed_at = "closed", _now()
        if note:
            st.note = (st.note + "；" if st.note else "") + note
    record("plan_close", username=scope.username, engine=engine, detail=f"方案{plan_id} 关闭" + (f"；{note}" if note else ""))
    return plan_info(engine, plan_id)


def rebuild_plan(engine: Engine, plan_id: int):
    """Regenerate the :class:`planning.plan.Plan` of stored plan ``plan_id`` (for edits from the CLI).

    The stored document carries everything the plan was made from (seed, listed hospitals, blocked
    dates, unified day, locks, absences, patrol points), and planning is deterministic given them.
    """
    from planning.actions import ActionLock
    from planning.plan import make_plan

    doc = load_document(engine, plan_id)
    rules = doc.get("rules", {})
    unified = rules.get("unified_day", False)
    if isinstance(unified, str):
        unified = dt.date.fromisoformat(unified)
    locks = [
        ActionLock(a["hospital_id"], start=pd.Timestamp(a["start"]), hours=int(a["hours"]),
                   forces={u["unit_id"]: int(u["officers"]) for u in a.get("units", [])})
        for a in doc.get("actions", []) if a.get("locked")
    ]
    absences = {k: [dt.date.fromisoformat(d) for d in v] for k, v in (rules.get("absences") or {}).items()}
    points = pd.DataFrame(doc.get("points", []))
    if points.empty:
        points = None
    else:
        points["peak_windows"] = points["peak_windows"].map(list)
        points = points[["point_id", "hospital_id", "name", "kind", "lon", "lat", "share", "hot", "peak_windows"]]
    listed = [h["hospital_id"] for h in doc.get("hospitals", []) if h.get("listed")]
    return make_plan(engine, month=doc["month"], seed=int(doc["seed"]), hospital_ids=listed,
                     blocked_dates=[dt.date.fromisoformat(d) for d in rules.get("blocked_dates", [])],
                     unified_day=unified, locks=locks, absences=absences, points=points)
