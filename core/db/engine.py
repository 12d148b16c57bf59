"""Engine creation, sessions and the store's key/value facts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import settings
from core.db.migrate import upgrade
from core.db.schema import Meta

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


def make_engine(url: str | None = None) -> Engine:
    """A new engine for ``url`` (default ``settings.DB_URL``) as it is, without touching the schema."""
    url = url or settings.DB_URL
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


#: Engine creation runs the migrations, and Alembic's environment is process-global: two threads of the dashboard
#: server asking for the first engine at once must not run it concurrently (KeyError 'config' inside Alembic).
_ENGINE_LOCK = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url`` (default ``settings.DB_URL``), migrated to the newest schema."""
    url = url or settings.DB_URL
    with _ENGINE_LOCK:
        return _cached_engine(url)


@lru_cache(maxsize=8)
def _cached_engine(url: str) -> Engine:
    engine = make_engine(url)
    init_db(engine)
    return engine


def forget_engines() -> None:
    """Drop the cached engines (after a store file was replaced or removed)."""
    with _ENGINE_LOCK:
        _cached_engine.cache_clear()


def init_db(engine: Engine) -> None:
    """Build or upgrade the store's schema through the migrations (see :mod:`core.db.migrate`)."""
    upgrade(engine)


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


