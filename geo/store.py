"""The incident store: SQLAlchemy models, engine creation and the data access functions.

One declarative :class:`Base` holds every table of the project; other modules (``geo.auth``,
``geo.audit``, ``planning.models``) add their tables to it. The embedded default is a SQLite
file in ``settings.VAR_DIR``; ``HOSPITAL_HOTSPOTS_DB`` takes any SQLAlchemy URL instead.
Only portable SQL is used (no SQLite-only statements outside the SQLite connect hook).

Times are stored as naive local time in Asia/Shanghai (China has no daylight saving, so the
mapping is one-to-one) and returned tz-aware by the loaders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache

import pandas as pd
from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from geo import settings
from geo.access import AccessScope


class Base(DeclarativeBase):
    """Declarative base shared by all tables of the project."""


class Hospital(Base):
    """A monitored hospital (the candidates of the key-hospital list)."""

    __tablename__ = "hospitals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    grade: Mapped[str] = mapped_column(String(20), default="")
    district: Mapped[str] = mapped_column(String(40), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    stationed_officers: Mapped[int] = mapped_column(Integer, default=0)
    #: Registration window opening and closing, "HH:MM" local time.
    reg_open: Mapped[str] = mapped_column(String(5), default="07:00")
    reg_close: Mapped[str] = mapped_column(String(5), default="17:00")
    source_note: Mapped[str] = mapped_column(String(200), default="")


class ImportBatch(Base):
    """One import of one file; counts always satisfy accepted + rejected + duplicates = total."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(16))
    crs: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    quarantine_path: Mapped[str] = mapped_column(String(400), default="")
    username: Mapped[str] = mapped_column(String(64), default="")


class Incident(Base):
    """One 110 call or one complaint."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_incident_source_id"),
        # One time index serves every page's period filter. A (hospital, time) index halved the
        # bulk-import speed (benchmarks/bench_import.py) for little gain at these volumes.
        Index("ix_incident_time", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))  # "110" or "complaint"
    source_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32), default="")  # 110, 12345, 12320, 医院投诉办 ...
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive, Asia/Shanghai
    lon: Mapped[float] = mapped_column(Float)  # WGS-84
    lat: Mapped[float] = mapped_column(Float)
    orig_crs: Mapped[str] = mapped_column(String(8), default="wgs84")
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)  # placed at the named hospital
    address: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32))
    source_category: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    caller_name: Mapped[str] = mapped_column(String(64), default="")  # sensitive
    caller_phone: Mapped[str] = mapped_column(String(32), default="")  # sensitive
    hospital_id: Mapped[str | None] = mapped_column(ForeignKey("hospitals.id"), nullable=True)
    hospital_distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), nullable=True)


class PoliceUnit(Base):
    """A unit that can supply officers: stationed team, local police station, city reserve."""

    __tablename__ = "police_units"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # "stationed" | "station" (派出所) | "reserve" (治安)
    district: Mapped[str] = mapped_column(String(40), default="")
    hospital_id: Mapped[str | None] = mapped_column(ForeignKey("hospitals.id"), nullable=True)
    #: Officers the unit can release for a concentrated action on a normal day.
    available_per_day: Mapped[int] = mapped_column(Integer, default=0)


class Officer(Base):
    """A police officer; stationed officers (驻院民警) belong to one hospital."""

    __tablename__ = "officers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str] = mapped_column(ForeignKey("police_units.id"))
    hospital_id: Mapped[str | None] = mapped_column(ForeignKey("hospitals.id"), nullable=True)
    phone: Mapped[str] = mapped_column(String(32), default="")  # sensitive
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Meta(Base):
    """Key/value facts about the store (e.g. ``demo = 1`` when it holds the synthetic demo)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


# --------------------------------------------------------------------------- engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - exercised via engine use
    cur = dbapi_conn.cursor()
    # WAL lets readers (the dashboard) proceed during an import; busy_timeout makes a second
    # writer wait instead of failing at once.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url`` (default ``settings.DB_URL``), creating tables."""
    url = url or settings.DB_URL
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    init_db(engine)
    return engine


def init_db(engine: Engine) -> None:
    """Create every table registered on :class:`Base` that does not exist yet."""
    # Importing registers the auth and audit tables on Base.
    import geo.audit
    import geo.auth  # noqa: F401

    Base.metadata.create_all(engine)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    factory = sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_meta(key: str, engine: Engine | None = None) -> str | None:
    """Return a value of the ``meta`` table or None."""
    with session_scope(engine) as s:
        row = s.get(Meta, key)
        return row.value if row else None


def set_meta(key: str, value: str, engine: Engine | None = None) -> None:
    """Set a value of the ``meta`` table."""
    with session_scope(engine) as s:
        s.merge(Meta(key=key, value=value))


def is_demo(engine: Engine | None = None) -> bool:
    """True when the store holds the synthetic demo data."""
    return get_meta("demo", engine) == "1"


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
        from geo.access import require

        # Enforced here, not only by hiding pages: aggregates-only roles get no incident rows.
        require(scope, rows=True)
    engine = engine or get_engine()
    t = Incident.__table__
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
    allowed = None if scope is None else scope.hospital_ids
    if hospital_ids is not None:
        chosen = set(hospital_ids)
        allowed = chosen if allowed is None else (chosen & set(allowed))
    if allowed is not None:
        stmt = stmt.where(t.c.hospital_id.in_(sorted(allowed)))
    stmt = stmt.order_by(t.c.received_at)
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    df["received_at"] = pd.to_datetime(df["received_at"]).dt.tz_localize(settings.TIMEZONE)
    if "approximate" in df:
        df["approximate"] = df["approximate"].astype(bool)
    if scope is not None and not scope.personal:
        from geo.privacy import mask_frame

        df = mask_frame(df)
    return df


def incident_count(engine: Engine | None = None) -> int:
    """Number of incidents in the store."""
    from sqlalchemy import func

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
        from geo.privacy import mask_person_name

        df["name"] = df["name"].map(mask_person_name).astype(object)
    return df
