"""Shared fixtures. Tests never touch the repository's own ``var/``: settings point at a temp dir."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Must happen before core.settings is imported anywhere.
_VAR = tempfile.mkdtemp(prefix="hh-test-var-")
os.environ["HOSPITAL_HOTSPOTS_VAR"] = _VAR
os.environ.pop("HOSPITAL_HOTSPOTS_DB", None)
os.environ.pop("HOSPITAL_HOTSPOTS_DB_URL", None)

import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# CI runs the property tests with a fixed seed so a landing never hinges on a lucky draw;
# developers' runs keep exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

#: Fixed end of the test demo so results do not depend on today's date.
DEMO_END = "2026-11-01"
DEMO_SEED = 20261101
DEMO_SCALE = 0.2

#: The stores every store-touching test runs on. PostgreSQL comes from `.ci/postgres.sh` (which `make test`
#: runs): HOSPITAL_HOTSPOTS_TEST_PG is the owner URL of a server with the PostGIS template database.
PG_URL = os.environ.get("HOSPITAL_HOTSPOTS_TEST_PG", "")
PG_TEMPLATE = os.environ.get("HOSPITAL_HOTSPOTS_TEST_PG_TEMPLATE", "hh_template")
STORES = ("sqlite", "postgresql")
_DEMO_FILES: dict = {}
_PG = None  # the session's PgDatabases, once a PostgreSQL store was asked for


def _pg_admin():
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _drop_database(conn, name: str) -> None:
    """Drop ``name`` with FORCE; a session of another role (hh_app) gets 10 s to end, then the error names it.

    The owner may only terminate its own role's sessions, so an application-role connection left open
    (a CLI subprocess still exiting, an undisposed engine) makes FORCE fail.
    """
    import time

    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    deadline = time.monotonic() + 10
    while True:
        try:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            return
        except ProgrammingError:
            if time.monotonic() > deadline:
                held = conn.execute(text(
                    "SELECT pid, usename, application_name, backend_type, state, left(query, 80) "
                    "FROM pg_stat_activity WHERE datname = :d"), {"d": name}).all()
                raise RuntimeError(f"cannot drop test database {name}; sessions still on it: {held}") from None
            time.sleep(0.2)


class PgDatabases:
    """Creates and drops throwaway PostgreSQL databases, each a copy of a migrated per-worker template."""

    def __init__(self, worker: str) -> None:
        from sqlalchemy import text

        # The process id keeps two test sessions on one server (two checkouts, two agents) apart.
        self.worker = f"{worker.replace('-', '_')}_{os.getpid()}"
        self.count = 0
        self.copies: list[str] = []
        self.migrated = f"hh_m_{self.worker}"
        admin = _pg_admin()
        with admin.connect() as conn:
            _drop_database(conn, self.migrated)
            conn.execute(text(f"CREATE DATABASE {self.migrated} TEMPLATE {PG_TEMPLATE}"))
        admin.dispose()
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from core.db.migrate import upgrade

        eng = create_engine(self.url(self.migrated), poolclass=NullPool)
        upgrade(eng)
        eng.dispose()

    def url(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    def create(self) -> str:
        from sqlalchemy import text

        self.count += 1
        name = f"hh_t_{self.worker}_{self.count}"
        admin = _pg_admin()
        with admin.connect() as conn:
            _drop_database(conn, name)
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {self.migrated}"))
        admin.dispose()
        return self.url(name)

    def copy(self, src_url: str) -> str:
        """A new database holding a copy of the store at ``src_url`` (dropped at the end of the session)."""
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from core.db import get_engine

        get_engine(src_url).dispose()  # a template must have no open connections
        self.count += 1
        name = f"hh_c_{self.worker}_{self.count}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {make_url(src_url).database}"))
        admin.dispose()
        self.copies.append(name)
        return self.url(name)

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        from core.db import get_engine

        get_engine(url).dispose()
        admin = _pg_admin()
        with admin.connect() as conn:
            _drop_database(conn, make_url(url).database)
        admin.dispose()


@pytest.fixture(scope="session")
def pg_databases(worker_id: str):
    """The per-worker factory of PostgreSQL test databases (skips when no server was started)."""
    if not PG_URL:
        pytest.skip("PostgreSQL test server not started: run `make test` (it runs .ci/postgres.sh)")
    global _PG
    dbs = _PG = PgDatabases(worker_id)
    yield dbs

    admin = _pg_admin()
    with admin.connect() as conn:
        for name in [*dbs.copies, dbs.migrated]:
            _drop_database(conn, name)
    admin.dispose()
    _PG = None


def copy_store(src_url: str, dst_dir) -> str:
    """URL of a private, writable copy of the store at ``src_url`` (SQLite: a file in ``dst_dir``)."""
    if src_url.startswith("sqlite:///"):
        import sqlite3

        dst = Path(dst_dir) / f"copy-{len(list(Path(dst_dir).glob('copy-*.sqlite')))}.sqlite"
        with sqlite3.connect(src_url.removeprefix("sqlite:///")) as src, sqlite3.connect(dst) as out:
            src.backup(out)  # the backup API brings the WAL content along
        return f"sqlite:///{dst}"
    if _PG is None:
        raise RuntimeError("copy_store of a PostgreSQL store needs the pg_databases fixture in the session")
    return _PG.copy(src_url)


@pytest.fixture
def demo_copy_url(demo_db_url: str, tmp_path) -> str:
    """URL of a private copy of the demo store, for tests that write (plans, overrides, exports)."""
    return copy_store(demo_db_url, tmp_path)


def _new_store_url(kind: str, request: pytest.FixtureRequest, directory) -> str:
    if kind == "sqlite":
        return f"sqlite:///{directory / 'store.sqlite'}"
    dbs: PgDatabases = request.getfixturevalue("pg_databases")
    url = dbs.create()
    request.addfinalizer(lambda: dbs.drop(url))
    return url


@pytest.fixture(params=STORES)
def store_kind(request) -> str:
    """Which store a test runs on: every test that takes a store runs on SQLite and on PostgreSQL."""
    return request.param


@pytest.fixture
def store_url(store_kind: str, request: pytest.FixtureRequest, tmp_path) -> str:
    """URL of a fresh, empty, migrated store of ``store_kind``."""
    return _new_store_url(store_kind, request, tmp_path)


@pytest.fixture(scope="session", params=STORES)
def demo_db_url(request, tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a store holding a small synthetic demo (scale 0.2, 12 months to 2026-11-01), on each store."""
    from core.db import get_engine
    from geo.io.demo import build_demo

    d = tmp_path_factory.mktemp(f"demo-{request.param}")
    url = _new_store_url(request.param, request, d)
    build_demo(get_engine(url), seed=DEMO_SEED, scale=DEMO_SCALE, end=DEMO_END, out_dir=d / "files")
    _DEMO_FILES[url] = d / "files"
    return url


@pytest.fixture(scope="session")
def demo_engine(demo_db_url: str):
    """Engine of the demo store (shared: tests must not write to it; use `empty_engine` for that)."""
    from core.db import get_engine

    return get_engine(demo_db_url)


@pytest.fixture(scope="session")
def demo_files(demo_db_url: str) -> dict:
    """Paths of the demo's sample files (GB18030 CSV of 110 calls, XLSX of complaints)."""
    d = _DEMO_FILES[demo_db_url]
    return {"calls": next(d.glob("*.csv")), "complaints": next(d.glob("*.xlsx"))}


@pytest.fixture
def empty_engine(store_url: str):
    """A fresh store with the 44 Beijing hospitals and no incidents (on each store)."""
    from core.db import get_engine
    from geo.io.hospitals import read_hospital_file, save_hospitals

    engine = get_engine(store_url)
    save_hospitals(engine, read_hospital_file())
    return engine
