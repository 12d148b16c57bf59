"""Aggregate incident statistics without personal fields, for every role (liaison included).

These functions read only time, hospital, category and source from the store (never
descriptions, addresses, names or phones), so their output can go to the health commission's
liaison (``AccessScope.aggregates_only``) and into reports sent to other departments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import settings
from core.db import Hospital, get_engine
from core.trust.access import AccessScope

#: Chinese column labels for exports.
COUNT_LABELS = {
    "hospital_id": "医院编号",
    "hospital_name": "医院",
    "month": "月份",
    "category": "类别",
    "source": "来源",
    "count": "警情数",
}


def incident_counts(
    engine: Engine | None = None,
    *,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    hospital_ids: Iterable[str] | None = None,
    scope: AccessScope | None = None,
    by: tuple[str, ...] = ("hospital_id", "month", "category"),
) -> pd.DataFrame:
    """Incident counts grouped by hospital × month × category (and optionally source).

    Incidents not attributed to a hospital are left out.

    Parameters
    ----------
    engine
        Store engine; default the configured store.
    start, end
        Half-open local time range; None leaves the side open.
    hospital_ids
        Optional hospital filter (intersected with the scope's hospitals).
    scope
        Caller's scope; limits the hospitals. Every role may call this.
    by
        Grouping keys among ``hospital_id``, ``month`` (``YYYY-MM``), ``category``, ``source``.

    Returns
    -------
    pandas.DataFrame
        The grouping keys, ``hospital_name`` when grouped by hospital, and ``count``.
    """
    allowed_keys = {"hospital_id", "month", "category", "source"}
    bad = [k for k in by if k not in allowed_keys]
    if bad or not by:
        raise ValueError(f"`by` must be a non-empty subset of {sorted(allowed_keys)}, got {by!r}.")
    engine = engine or get_engine()
    df = incident_facts(engine, scope=scope, start=start, end=end)
    df = df[df["hospital_id"].notna()]
    if hospital_ids is not None:
        df = df[df["hospital_id"].isin(set(hospital_ids))]
    with engine.connect() as conn:
        names = pd.read_sql(select(Hospital.id, Hospital.name), conn)
    df = df.assign(month=df["received_at"].dt.strftime("%Y-%m"))
    keys = list(by)
    out = df.groupby(keys, sort=True).size().rename("count").reset_index()
    if "hospital_id" in keys:
        name_map = dict(zip(names["id"], names["name"], strict=True))
        out.insert(keys.index("hospital_id") + 1, "hospital_name", out["hospital_id"].map(name_map).astype(object))
    out["count"] = out["count"].astype(int)
    return out


def export_counts_csv(
    engine: Engine | None = None,
    *,
    scope: AccessScope | None = None,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    by: tuple[str, ...] = ("hospital_id", "month", "category"),
) -> bytes:
    """Export :func:`incident_counts` as a CSV (Chinese headers) and record the export.

    Returns
    -------
    bytes
        UTF-8 (BOM) CSV; its SHA-256 is written to the audit trail.
    """
    from core.safeio import frame_to_csv_bytes
    from core.trust.audit import record

    df = incident_counts(engine, start=start, end=end, scope=scope, by=by)
    data = frame_to_csv_bytes(df.rename(columns=COUNT_LABELS))
    who = scope.username if scope is not None else "system"
    record(
        "export", username=who,
        detail=f"导出汇总统计 CSV（{len(df)} 行，时区 {settings.TIMEZONE}，范围 {start or '不限'} 至 {end or '不限'}）",
        data=data, engine=engine,
    )
    return data


#: Incident facts every role may read: when, what kind, from which source, at which hospital.
#: No ids, coordinates, addresses, descriptions or personal fields.
FACT_COLUMNS = ("source", "channel", "received_at", "category", "hospital_id")


def incident_facts(
    engine: Engine | None = None,
    *,
    scope: AccessScope | None = None,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
) -> pd.DataFrame:
    """One row per incident with only :data:`FACT_COLUMNS`, for statistics of any role.

    This is the row-level basis of the dashboard's counts and trends for aggregates-only roles
    (the liaison): it identifies no incident, place or person, and it is limited to the scope's
    hospitals. :func:`core.db.load_incidents` refuses such scopes any incident rows.
    """
    from core.db import load_incidents

    hospital_ids = None if scope is None else scope.hospital_ids
    return load_incidents(engine, start=start, end=end, hospital_ids=hospital_ids, columns=FACT_COLUMNS)
