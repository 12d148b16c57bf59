"""Check-ins of planned patrol visits by stationed officers (巡查签到).

Each visit of an approved plan is checked in once: **done** (actual start, what was found and
counted) or **missed** with a reason. A check-in is validated (own visit, not ahead of time, a
reason for a missed visit, counts non-negative), written to the audit trail (``checkin``) and may
be changed afterwards only by its author or a commander within ``settings.RECORD_EDIT_HOURS``.
:func:`todays_tasks` is the officer's list for one day (今日任务).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import settings
from core.trust.access import AccessScope, require

#: Check-in statuses and their Chinese labels.
STATUS_LABELS = {"done": "已完成", "missed": "未完成"}
#: Reasons a visit was missed (key -> label).
MISSED_REASONS = {
    "incident": "处置警情",
    "other_duty": "临时勤务",
    "leave": "病事假",
    "action": "参加集中行动",
    "other": "其他",
}
#: Counts an officer may report with a visit.
VISIT_COUNTS = ("persons_checked", "scalpers_caught", "touts_caught", "warned_away", "cases_handed_over")
#: Roles that may check visits in (an officer their own, a commander any).
CHECKIN_ROLES = ("officer", "commander")
#: What to look for at each kind of point (今日任务).
LOOK_FOR = {
    "reg": "排队人群中的倒号、代挂号、加价转号；留意反复出现的面孔",
    "main": "门口拉客、医托搭讪、黑车揽客",
    "er": "急诊秩序、医患纠纷苗头、黑救护车",
    "hotspot": "近期警情集中处：号贩子、医托及其接应人员",
    "added": "指挥员增设点位：按交代事项巡查",
}
#: How early before its planned start a visit may be checked in.
EARLY_MIN = 30


def _now() -> dt.datetime:
    return pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).floor("s").to_pydatetime()


def _naive(ts) -> dt.datetime:
    t = pd.Timestamp(ts)
    if t.tzinfo is not None:
        t = t.tz_convert(settings.TIMEZONE).tz_localize(None)
    return t.to_pydatetime()


def look_for(point_id: str, kind: str, peak_windows: list[str] | tuple[str, ...] = ()) -> str:
    """What a stationed officer should look for at a point (plain Chinese)."""
    key = point_id.rsplit("-", 1)[-1] if kind == "fixed" else kind
    text = LOOK_FOR.get(key, LOOK_FOR["hotspot"])
    if peak_windows:
        text += f"（高峰 {'、'.join(peak_windows)}，两小时内必须复巡）"
    return text


def plan_visits(doc: Mapping, *, officer_id: str | None = None, on: dt.date | None = None) -> pd.DataFrame:
    """Visits of a plan document (docs/plan_json.md) with point names and what to look for.

    Returns
    -------
    pandas.DataFrame
        visit_id, date, hospital_id, hospital, point_id, point, kind, officer_id, officer,
        start, end (naive local), peak (inside a guaranteed peak window), look_for.
    """
    cols = ["visit_id", "date", "hospital_id", "hospital", "point_id", "point", "kind", "officer_id", "officer",
            "start", "end", "peak", "look_for"]
    visits = [v for v in doc.get("visits", [])
              if (officer_id is None or v["officer_id"] == officer_id)
              and (on is None or v["start"][:10] == on.isoformat())]
    if not visits:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(visits)
    pts = {p["point_id"]: p for p in doc.get("points", [])}
    hosp = {h["hospital_id"]: h["name"] for h in doc.get("hospitals", [])}
    off = {o["officer_id"]: o["name"] for o in doc.get("officers", [])}
    df["start"] = pd.to_datetime(df["start"].str[:19])
    df["end"] = pd.to_datetime(df["end"].str[:19])
    df["date"] = df["start"].dt.date
    df["hospital"] = df["hospital_id"].map(hosp).fillna(df["hospital_id"])
    df["point"] = df["point_id"].map(lambda p: pts.get(p, {}).get("name", p))
    df["kind"] = df["point_id"].map(lambda p: pts.get(p, {}).get("kind", "fixed"))
    df["officer"] = df["officer_id"].map(off).fillna(df["officer_id"])
    g = pd.DataFrame(doc.get("peak_guarantees", []))
    df["peak"] = False
    if len(g):
        g["start"] = pd.to_datetime(g["start"].str[:19])
        g["end"] = pd.to_datetime(g["end"].str[:19])
        m = df.reset_index().merge(g, on=["hospital_id", "point_id"], suffixes=("", "_g"))
        inside = m[(m["start"] >= m["start_g"]) & (m["start"] < m["end_g"])]["index"].unique()
        df.loc[inside, "peak"] = True
    df["look_for"] = [look_for(p, k, pts.get(p, {}).get("peak_windows", []))
                      for p, k in zip(df["point_id"], df["kind"], strict=True)]
    return df[cols].sort_values(["start", "officer_id"], ignore_index=True)


def list_checkins(
    engine: Engine,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    hospital_ids=None,
    officer_id: str | None = None,
    plan_id: int | None = None,
) -> pd.DataFrame:
    """Stored check-ins with planned start in [start, end] (dates inclusive)."""
    from core.db.schema import VisitCheckin

    t = VisitCheckin.__table__
    q = select(t)
    if start is not None:
        q = q.where(t.c.planned_start >= dt.datetime.combine(start, dt.time()))
    if end is not None:
        q = q.where(t.c.planned_start < dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    if hospital_ids is not None:
        q = q.where(t.c.hospital_id.in_(list(hospital_ids)))
    if officer_id is not None:
        q = q.where(t.c.officer_id == officer_id)
    if plan_id is not None:
        q = q.where(t.c.plan_id == int(plan_id))
    with engine.connect() as conn:
        df = pd.read_sql(q.order_by(t.c.planned_start), conn)
    for c in ("planned_start", "planned_end", "actual_start", "at", "updated_at"):
        df[c] = pd.to_datetime(df[c])
    df["peak"] = df["peak"].astype(bool)
    return df


def _validate_counts(counts: Mapping[str, int]) -> dict[str, int]:
    unknown = set(counts) - set(VISIT_COUNTS)
    if unknown:
        raise ValueError(f"未知的成果字段：{sorted(unknown)}。")
    out = {}
    for k in VISIT_COUNTS:
        v = counts.get(k, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > 10_000:
            raise ValueError(f"“{k}”应为 0 到 10000 之间的整数，收到 {v!r}。")
        out[k] = v
    return out


def may_edit(row_username: str, row_at: dt.datetime, scope: AccessScope, *, now: dt.datetime | None = None) -> bool:
    """Whether ``scope`` may still change a record written by ``row_username`` at ``row_at``."""
    now = now or _now()
    if now - row_at > dt.timedelta(hours=settings.RECORD_EDIT_HOURS):
        return False
    return scope.role == "commander" or scope.username == row_username


def record_checkin(
    engine: Engine,
    *,
    scope: AccessScope,
    plan_id: int,
    visit_id: str,
    status: str,
    reason: str = "",
    actual_start: dt.datetime | pd.Timestamp | None = None,
    findings: str = "",
    now: dt.datetime | None = None,
    **counts: int,
) -> int:
    """Check in visit ``visit_id`` of approved plan ``plan_id`` and return the check-in id.

    Parameters
    ----------
    scope
        The stationed officer of the visit, or a commander.
    status
        ``done`` or ``missed``.
    reason
        A key of :data:`MISSED_REASONS` (required when missed).
    actual_start
        When the visit began (required when done; local time; within two hours of the plan).
    findings
        What was found (at most 500 characters).
    now
        The current local time (default: the clock), for tests.
    counts
        Keys of :data:`VISIT_COUNTS`.

    Raises
    ------
    PermissionError
        Another officer's visit, a role that does not check in, or an edit outside the window.
    ValueError
        Invalid values (message in Chinese), or the plan is not approved.
    """
    from core.db import session_scope
    from core.db.schema import VisitCheckin
    from core.trust.audit import record
    from planning.lifecycle import load_document, plan_info

    require(scope, roles=CHECKIN_ROLES)
    now = now or _now()
    info = plan_info(engine, plan_id)
    if info.status not in ("approved", "closed"):
        raise ValueError(f"方案{plan_id}尚未批准，不能签到。")
    doc = load_document(engine, plan_id)
    v = next((x for x in doc.get("visits", []) if x["visit_id"] == visit_id), None)
    if v is None:
        raise ValueError(f"方案{plan_id}中没有巡查任务 {visit_id}。")
    if scope.role == "officer" and v["officer_id"] != scope.officer_id:
        raise PermissionError("只能为本人的巡查任务签到。")
    require(scope, hospital_id=v["hospital_id"])
    if status not in STATUS_LABELS:
        raise ValueError(f"状态应为“已完成”或“未完成”（done/missed），收到 {status!r}。")
    p_start, p_end = _naive(v["start"][:19]), _naive(v["end"][:19])
    if now < p_start - dt.timedelta(minutes=EARLY_MIN):
        raise ValueError(f"该巡查计划于 {p_start:%m-%d %H:%M} 开始，尚不能签到。")
    vals = _validate_counts(counts)
    findings = str(findings or "").strip()
    if len(findings) > 500:
        raise ValueError("巡查情况不超过 500 字。")
    actual = None
    if status == "done":
        if actual_start is None:
            raise ValueError("已完成的巡查需填写实际到达时间。")
        actual = _naive(actual_start)
        if actual > now:
            raise ValueError("实际到达时间不能晚于现在。")
        if abs(actual - p_start) > dt.timedelta(hours=2):
            raise ValueError(f"实际到达时间 {actual:%H:%M} 与计划 {p_start:%H:%M} 相差超过两小时，请核对。")
        reason = ""
    else:
        if reason not in MISSED_REASONS:
            raise ValueError(f"未完成的巡查需选择原因：{'、'.join(MISSED_REASONS.values())}。")
        if any(vals.values()):
            raise ValueError("未完成的巡查不能填写查获数字。")
    pts = {p["point_id"]: p for p in doc.get("points", [])}
    peak = any(g["hospital_id"] == v["hospital_id"] and g["point_id"] == v["point_id"]
               and g["start"][:19] <= v["start"][:19] < g["end"][:19] for g in doc.get("peak_guarantees", []))
    with session_scope(engine) as s:
        row = s.scalars(select(VisitCheckin).where(
            VisitCheckin.officer_id == v["officer_id"], VisitCheckin.point_id == v["point_id"],
            VisitCheckin.planned_start == p_start)).first()
        if row is not None:
            if not may_edit(row.username, row.at, scope, now=now):
                raise PermissionError(f"签到记录只能由填报人或指挥员在 {settings.RECORD_EDIT_HOURS} 小时内修改。")
            row.updated_at = now
            verb = "修改"
        else:
            row = VisitCheckin(plan_id=int(plan_id), visit_id=visit_id, hospital_id=v["hospital_id"],
                               point_id=v["point_id"], point_name=pts.get(v["point_id"], {}).get("name", v["point_id"]),
                               officer_id=v["officer_id"], planned_start=p_start, planned_end=p_end, peak=peak,
                               username=scope.username, at=now)
            s.add(row)
            verb = "签到"
        row.status, row.reason, row.actual_start, row.findings = status, reason, actual, findings
        for k, x in vals.items():
            setattr(row, k, x)
        s.flush()
        cid = int(row.id)
    record("checkin", username=scope.username, engine=engine,
           detail=f"{verb} 方案{plan_id} {visit_id} {row.point_name} {p_start:%m-%d %H:%M} {STATUS_LABELS[status]}"
           + (f"（{MISSED_REASONS[reason]}）" if reason else ""))
    return cid


def todays_tasks(engine: Engine, *, scope: AccessScope, on: dt.date | None = None) -> tuple[int | None, pd.DataFrame]:
    """The signed-in officer's visits of ``on`` (default today) in the approved plan, with check-ins.

    Returns
    -------
    (plan_id, pandas.DataFrame)
        :func:`plan_visits` columns plus status, reason, actual_start, findings (empty when not
        checked in); plan_id None when the month has no approved plan.
    """
    from planning.lifecycle import approved_plan_id, load_document, today

    on = on or today()
    pid = approved_plan_id(engine, f"{on:%Y-%m}")
    if pid is None:
        return None, plan_visits({}).assign(status="", reason="", actual_start=pd.NaT, findings="")
    oid = scope.officer_id if scope.role == "officer" else None
    tasks = plan_visits(load_document(engine, pid), officer_id=oid, on=on)
    if scope.hospital_ids is not None:
        tasks = tasks[tasks["hospital_id"].isin(scope.hospital_ids)].reset_index(drop=True)
    done = list_checkins(engine, start=on, end=on, officer_id=oid)
    done = done[done["plan_id"] == pid][["visit_id", "status", "reason", "actual_start", "findings"]]
    out = tasks.merge(done, on="visit_id", how="left")
    out[["status", "reason", "findings"]] = out[["status", "reason", "findings"]].fillna("")
    return pid, out
