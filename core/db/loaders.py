"""Scoped loaders: every read of incidents, hospitals, units and officers takes the caller's scope
and filters in the query (never in pages)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core import settings
from core.db.engine import get_engine
from core.db.schema import Hospital, Incident, Officer, PoliceUnit, table_of
from core.trust.access import AccessScope

# --------------------------------------------------------------------------- loaders

INCIDENT_COLUMNS = [
    "incident_id", "source", "source_id", "channel", "received_at", "lon", "lat", "approximate",
    "address", "category", "source_category", "description", "caller_name", "caller_phone",
    "hospital_id", "hospital_distance_m", "batch_id",
]


def _to_naive_local(ts: dt.datetime | dt.date | str | pd.Timestamp | None) -> dt.datetime | None:
    if ts is None:
        return None
    t = pd.Timestamp(ts)
    if t.tzinfo is not None:
        t = t.tz_convert(settings.TIMEZONE).tz_localize(None)
    return t.to_pydatetime()


def load_hospitals(engine: Engine | None = None, *, scope: AccessScope | None = None) -> pd.DataFrame:
    """All hospitals as a DataFrame indexed 0..n with column ``hospital_id`` first."""
    engine = engine or get_engine()
    stmt = select(Hospital).order_by(Hospital.id)
    if scope is not None and scope.hospital_ids is not None:
        stmt = stmt.where(Hospital.id.in_(sorted(scope.hospital_ids)))
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    return df.rename(columns={"id": "hospital_id"})


def load_incidents(
    engine: Engine | None = None,
    *,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    hospital_ids: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    scope: AccessScope | None = None,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Load incidents received in ``[start, end)`` as a DataFrame.

    Parameters
    ----------
    engine
        Store engine; default the configured store.
    start, end
        Half-open time range; dates mean local midnight. None leaves the side open.
    hospital_ids, categories, sources
        Optional filters.
    scope
        Access scope of the caller. A scope limited to some hospitals sees only their
        incidents; a scope without personal access gets the personal columns blanked and
        names, phones and ID numbers in descriptions masked. None means unrestricted
        (command-line and internal use).
    columns
        Subset of :data:`INCIDENT_COLUMNS` to load (``received_at`` is always included);
        loading only what an analysis needs is several times faster on large stores.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`INCIDENT_COLUMNS`; ``received_at`` is tz-aware (Asia/Shanghai).
    """
    if scope is not None:
        from core.trust.access import require

        # Enforced here, not only by hiding pages: aggregates-only roles get no incident rows.
        require(scope, rows=True)
    engine = engine or get_engine()
    t = table_of(Incident)
    wanted = list(INCIDENT_COLUMNS) if columns is None else list(dict.fromkeys(["received_at", *columns]))
    unknown = sorted(set(wanted) - set(INCIDENT_COLUMNS))
    if unknown:
        raise ValueError(f"Unknown incident columns {unknown}; known: {INCIDENT_COLUMNS}.")
    stmt = select(*(t.c.id.label("incident_id") if c == "incident_id" else t.c[c] for c in wanted))
    if start is not None:
        stmt = stmt.where(t.c.received_at >= _to_naive_local(start))
    if end is not None:
        stmt = stmt.where(t.c.received_at < _to_naive_local(end))
    if sources is not None:
        stmt = stmt.where(t.c.source.in_(list(sources)))
    if categories is not None:
        stmt = stmt.where(t.c.category.in_(list(categories)))
    allowed: frozenset[str] | None = None if scope is None else scope.hospital_ids
    if hospital_ids is not None:
        chosen = frozenset(hospital_ids)
        allowed = chosen if allowed is None else (chosen & allowed)
    if allowed is not None:
        stmt = stmt.where(t.c.hospital_id.in_(sorted(allowed)))
    stmt = stmt.order_by(t.c.received_at)
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    df["received_at"] = pd.to_datetime(df["received_at"]).dt.tz_localize(settings.TIMEZONE)
    if "approximate" in df:
        df["approximate"] = df["approximate"].astype(bool)
    if scope is not None and not scope.personal:
        from core.trust.privacy import mask_frame

        df = mask_frame(df)
    return df


def incident_count(engine: Engine | None = None) -> int:
    """Number of incidents in the store."""

    with (engine or get_engine()).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Incident)).scalar_one())


def load_units(engine: Engine | None = None) -> pd.DataFrame:
    """Police units as a DataFrame (column ``unit_id`` first)."""
    with (engine or get_engine()).connect() as conn:
        return pd.read_sql(select(PoliceUnit).order_by(PoliceUnit.id), conn).rename(columns={"id": "unit_id"})


def load_officers(engine: Engine | None = None, *, scope: AccessScope | None = None) -> pd.DataFrame:
    """Officers as a DataFrame (column ``officer_id`` first); phones blanked without personal access."""
    stmt = select(Officer).order_by(Officer.id)
    if scope is not None and scope.hospital_ids is not None:
        stmt = stmt.where(Officer.hospital_id.in_(sorted(scope.hospital_ids)))
    with (engine or get_engine()).connect() as conn:
        df = pd.read_sql(stmt, conn).rename(columns={"id": "officer_id"})
    if scope is not None and not scope.personal:
        df["phone"] = ""
    if scope is not None and scope.aggregates_only:
        from core.trust.privacy import mask_person_name

        df["name"] = df["name"].map(mask_person_name).astype(object)
    return df
