"""Scoped loaders: every read of incidents, hospitals, units and officers takes the caller's scope
and filters in the query (never in pages)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, func, select, text
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
    engine = engine or get_engine()
    stmt = _incident_select(
        columns, scope=scope, start=start, end=end, hospital_ids=hospital_ids, categories=categories,
        sources=sources,
    ).order_by(Incident.__table__.c.received_at)
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    return _incident_frame(df, scope)


def _incident_select(
    columns: Iterable[str] | None,
    *,
    scope: AccessScope | None,
    start: dt.datetime | dt.date | str | None,
    end: dt.datetime | dt.date | str | None,
    hospital_ids: Iterable[str] | None,
    categories: Iterable[str] | None,
    sources: Iterable[str] | None,
) -> Select:
    """The incidents ``SELECT`` of :func:`load_incidents` with every filter and the scope in its ``WHERE``."""
    if scope is not None:
        from core.trust.access import require

        # Enforced here, not only by hiding pages: aggregates-only roles get no incident rows.
        require(scope, rows=True)
    t = table_of(Incident)
    wanted = list(INCIDENT_COLUMNS) if columns is None else list(dict.fromkeys(["received_at", *columns]))
    unknown = sorted(set(wanted) - set(INCIDENT_COLUMNS))
    if unknown:
        raise ValueError(f"Unknown incident columns {unknown}; known: {INCIDENT_COLUMNS}.")
    stmt = select(*(t.c.id.label("incident_id") if c == "incident_id" else t.c[c] for c in wanted))
    return _filtered(stmt, scope=scope, start=start, end=end, hospital_ids=hospital_ids, categories=categories,
                     sources=sources)


def _filtered(
    stmt: Select,
    *,
    scope: AccessScope | None,
    start: dt.datetime | dt.date | str | None,
    end: dt.datetime | dt.date | str | None,
    hospital_ids: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
) -> Select:
    t = Incident.__table__
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
    return stmt


def _incident_frame(df: pd.DataFrame, scope: AccessScope | None) -> pd.DataFrame:
    """Typed columns (local tz-aware times, bool flags) and masking for a scope without personal access."""
    df["received_at"] = pd.to_datetime(df["received_at"]).dt.tz_localize(settings.TIMEZONE)
    if "approximate" in df:
        df["approximate"] = df["approximate"].astype(bool)
    if scope is not None and not scope.personal:
        from core.trust.privacy import mask_frame

        df = mask_frame(df)
    return df


# --------------------------------------------------------------------------- spatial loaders

#: Metres per degree of latitude (WGS-84 mean); the bounding boxes below are widened by 1 % on top.
_M_PER_DEG = 111_320.0


def has_geometry(engine: Engine) -> bool:
    """True when the store has the PostGIS point column ``incidents.geom`` with its GiST index (migration 0004)."""
    key = str(engine.url)
    if key not in _GEOMETRY:
        found = False
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                found = conn.execute(text(
                    "SELECT count(*) FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = 'incidents' AND column_name = 'geom'"
                )).scalar_one() > 0
        _GEOMETRY[key] = found
    return _GEOMETRY[key]


_GEOMETRY: dict[str, bool] = {}


def _degree_box(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box that surely contains the circle of ``radius_m`` around the point."""
    dlat = radius_m / _M_PER_DEG * 1.01
    dlon = radius_m / (_M_PER_DEG * max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)) * 1.01
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def load_incidents_near(
    engine: Engine | None,
    lon: float,
    lat: float,
    radius_m: float,
    *,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    categories: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    scope: AccessScope | None = None,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Incidents within ``radius_m`` metres (on the sphere) of a WGS-84 point, received in ``[start, end)``.

    On PostgreSQL with PostGIS the query uses the GiST index of ``incidents.geom``: a bounding box in degrees
    (``ST_DWithin`` on geometry, which the index serves) and then the exact distance on geography (a cast the
    index cannot serve, hence the box first). Elsewhere a ``lon``/``lat`` box in SQL and the same ellipsoidal
    distance (pyproj) give the same rows.

    Parameters
    ----------
    engine
        Store engine; default the configured store.
    lon, lat
        Centre (WGS-84), e.g. a hospital.
    radius_m
        Radius in metres.
    start, end, categories, sources, scope, columns
        As in :func:`load_incidents`; the scope limits the hospitals (incidents attributed to no hospital are
        visible only to scopes without a hospital limit) and masks personal fields.

    Returns
    -------
    pandas.DataFrame
        As :func:`load_incidents`, ordered by time.
    """
    engine = engine or get_engine()
    want = None if columns is None else list(dict.fromkeys([*columns, "lon", "lat"]))
    stmt = _incident_select(want, scope=scope, start=start, end=end, hospital_ids=None, categories=categories,
                            sources=sources)
    t = Incident.__table__
    x0, y0, x1, y1 = _degree_box(lon, lat, radius_m)
    params = {"lon": float(lon), "lat": float(lat), "deg": max(x1 - lon, y1 - lat), "m": float(radius_m)}
    exact_in_sql = has_geometry(engine)
    if exact_in_sql:
        stmt = stmt.where(text(
            "ST_DWithin(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :deg) AND "
            "ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :m)"
        ).bindparams(**params))
    else:
        stmt = stmt.where(t.c.lon.between(x0, x1), t.c.lat.between(y0, y1))
    with engine.connect() as conn:
        df = pd.read_sql(stmt.order_by(t.c.received_at), conn)
    if not exact_in_sql and len(df):
        df = df[_geodesic_m(df["lon"].to_numpy(), df["lat"].to_numpy(), lon, lat) <= radius_m]
        df = df.reset_index(drop=True)
    if columns is not None:
        df = df[list(dict.fromkeys(["received_at", *columns]))]
    return _incident_frame(df, scope)


def _geodesic_m(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    """Distance in metres on the WGS-84 ellipsoid, as PostGIS measures geography by default."""
    from pyproj import Geod

    _, _, dist = Geod(ellps="WGS84").inv(np.full(len(lon), lon0), np.full(len(lat), lat0), lon, lat)
    return np.asarray(dist)


def load_incidents_in_view(
    engine: Engine | None,
    west: float,
    south: float,
    east: float,
    north: float,
    *,
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    categories: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    scope: AccessScope | None = None,
    columns: Iterable[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Incidents inside a map viewport (WGS-84 bounds, edges included), received in ``[start, end)``.

    On PostgreSQL with PostGIS ``geom && ST_MakeEnvelope(...)`` uses the GiST index; elsewhere a plain
    ``lon``/``lat`` range. ``limit`` keeps the newest ``limit`` rows (a map cannot show millions of points).
    Other parameters as in :func:`load_incidents`.
    """
    engine = engine or get_engine()
    stmt = _incident_select(columns, scope=scope, start=start, end=end, hospital_ids=None, categories=categories,
                            sources=sources)
    t = Incident.__table__
    if has_geometry(engine):
        stmt = stmt.where(text("geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)").bindparams(
            w=float(west), s=float(south), e=float(east), n=float(north)))
    else:
        stmt = stmt.where(t.c.lon.between(west, east), t.c.lat.between(south, north))
    if limit is not None:
        stmt = stmt.order_by(t.c.received_at.desc()).limit(int(limit))
        inner = stmt.subquery()
        stmt = select(inner).order_by(inner.c.received_at)
    else:
        stmt = stmt.order_by(t.c.received_at)
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    return _incident_frame(df, scope)


# --------------------------------------------------------------------------- aggregates in SQL

#: Grouping keys :func:`count_incidents` accepts.
COUNT_KEYS = ("hospital_id", "month", "day", "category", "source")


def count_incidents(
    engine: Engine | None = None,
    *,
    by: tuple[str, ...] = ("hospital_id", "month", "category"),
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    hospital_ids: Iterable[str] | None = None,
    scope: AccessScope | None = None,
) -> pd.DataFrame:
    """Incident counts grouped in the database (``GROUP BY``): no incident row leaves the server.

    The city-wide overview of a large store (millions of rows) needs this; every role may call it (counts
    identify nobody), limited to the scope's hospitals. Incidents attributed to no hospital count only for
    scopes without a hospital limit and only when ``hospital_id`` is not a key.

    Parameters
    ----------
    by
        Keys among :data:`COUNT_KEYS`: ``month`` is ``YYYY-MM``, ``day`` is ``YYYY-MM-DD`` (local time).
    start, end, hospital_ids, scope
        As in :func:`load_incidents`.

    Returns
    -------
    pandas.DataFrame
        The keys and ``count`` (int), sorted by the keys.
    """
    bad = [k for k in by if k not in COUNT_KEYS]
    if bad or not by:
        raise ValueError(f"`by` must be a non-empty subset of {list(COUNT_KEYS)}, got {by!r}.")
    engine = engine or get_engine()
    t = table_of(Incident)
    pg = engine.dialect.name == "postgresql"

    def key(k: str):
        expr: Any
        if k == "month":
            expr = func.to_char(t.c.received_at, "YYYY-MM") if pg else func.strftime("%Y-%m", t.c.received_at)
        elif k == "day":
            expr = func.to_char(t.c.received_at, "YYYY-MM-DD") if pg else func.strftime("%Y-%m-%d", t.c.received_at)
        else:
            expr = t.c[k]
        return expr.label(k)

    keys = [key(k) for k in by]
    stmt = _filtered(select(*keys, func.count().label("count")), scope=scope, start=start, end=end,
                     hospital_ids=hospital_ids)
    if "hospital_id" in by:
        stmt = stmt.where(t.c.hospital_id.is_not(None))
    stmt = stmt.group_by(*keys).order_by(*keys)
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    df["count"] = df["count"].astype(int)
    return df


def ensure_month_partitions(engine: Engine, through: dt.date | str, *, start: dt.date | str | None = None) -> list[str]:
    """Create the monthly partitions of ``incidents`` up to the month of ``through`` (PostgreSQL; else a no-op).

    Run it ahead of time (a monthly job, or before a bulk load of new months): a month whose rows already sit
    in the DEFAULT partition cannot be created without moving them, so such a month is skipped (its rows stay
    correct, only unpruned). Returns the partitions created.
    """
    if engine.dialect.name != "postgresql":
        return []
    month = (pd.Timestamp(start) if start is not None else pd.Timestamp.now(tz=settings.TIMEZONE)).date().replace(day=1)
    last = pd.Timestamp(through).date().replace(day=1)
    created: list[str] = []
    with engine.connect() as conn:
        parted = conn.execute(text("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'incidents'::regclass"))
        if not parted.scalar_one():
            return []
        existing = set(conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'incidents'::regclass")).scalars())
    while month <= last:
        nxt = (pd.Timestamp(month) + pd.DateOffset(months=1)).date()
        name = f"incidents_{month:%Y%m}"
        if name not in existing:
            with engine.begin() as conn:
                stranded = conn.execute(text(
                    "SELECT count(*) FROM incidents_default WHERE received_at >= :a AND received_at < :b"
                ), {"a": month, "b": nxt}).scalar_one()
                if not stranded:
                    conn.execute(text(f"CREATE TABLE {name} PARTITION OF incidents "
                                      f"FOR VALUES FROM ('{month:%Y-%m-%d}') TO ('{nxt:%Y-%m-%d}')"))
                    created.append(name)
        month = nxt
    return created
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
