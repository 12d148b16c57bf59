"""Exports of a plan, in Chinese: PDF, XLSX, one ICS calendar per officer, GeoJSON.

Every export takes the plan and an :class:`core.trust.access.AccessScope`, returns bytes, shows only
the hospitals (and, for an officer, only the schedule) the scope allows, masks officers'
names for roles that do not assign duty (``planning.plan.officer_names_visible``), labels synthetic demo data and is recorded in
the audit trail with the SHA-256 of the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.trust.access import AccessScope

#: Label shown on every export made from the synthetic demo store.
DEMO_LABEL = "演示数据（合成）"
#: Chinese names of the patrol point kinds.
POINT_KIND_LABELS = {"hotspot": "警情热点", "fixed": "固定点位", "added": "人工增加"}


@dataclass
class ScopedPlan:
    """The share of a plan a scope may see, with display names already masked."""

    hospitals: pd.DataFrame
    actions: pd.DataFrame
    forces: pd.DataFrame
    points: pd.DataFrame
    visits: pd.DataFrame
    roster: pd.DataFrame
    officers: pd.DataFrame  # officer_id, display_name, hospital_id, unit_id


def check_export_scope(scope: AccessScope) -> None:
    """Refuse plan exports to scopes that may only see aggregates."""
    if not isinstance(scope, AccessScope):
        raise ValueError(f"`scope` must be an AccessScope, got {type(scope).__name__}.")
    if scope.aggregates_only:
        raise PermissionError("当前角色只能查看统计数据，不能导出巡防计划。")


def scoped(plan, scope: AccessScope) -> ScopedPlan:
    """Filter ``plan`` to what ``scope`` may see and mask names without personal access."""
    from core.trust.privacy import mask_person_name
    from planning.plan import officer_names_visible

    check_export_scope(scope)
    named = officer_names_visible(scope)

    def keep(df: pd.DataFrame) -> pd.DataFrame:
        if scope.hospital_ids is None or df.empty:
            return df.reset_index(drop=True)
        return df[df["hospital_id"].isin(scope.hospital_ids)].reset_index(drop=True)

    visits, roster, officers = keep(plan.visits), keep(plan.roster), keep(plan.officers)
    if scope.role == "officer":
        if not scope.officer_id:
            raise PermissionError("驻院民警账号未关联民警编号，不能导出排班。")
        visits = visits[visits["officer_id"] == scope.officer_id].reset_index(drop=True)
        roster = roster[roster["officer_id"] == scope.officer_id].reset_index(drop=True)
        officers = officers[officers["officer_id"] == scope.officer_id].reset_index(drop=True)
    officers = officers.assign(
        display_name=[n if named else mask_person_name(n) for n in officers["name"]]
    )[["officer_id", "display_name", "hospital_id", "unit_id"]]
    return ScopedPlan(keep(plan.hospitals), keep(plan.actions), keep(plan.forces), keep(plan.points), visits, roster,
                      officers)


def record_export(plan, scope: AccessScope, kind: str, data: bytes) -> None:
    """Record an export in the audit trail (store of the plan)."""
    from core.trust.audit import record

    record("export", username=scope.username, engine=plan.engine, data=data,
           detail=f"巡防计划 {plan.month} {kind} seed={plan.seed}" + ("（演示数据）" if plan.demo else ""))


def fmt_time(ts) -> str:
    """"HH:MM" local time."""
    return pd.Timestamp(ts).tz_convert("Asia/Shanghai").strftime("%H:%M")
