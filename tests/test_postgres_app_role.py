"""The application's PostgreSQL role (issue 11): it can do the application's work and nothing more.

The migrations run as the owner (``hh_owner``); the dashboard and the CLI connect as ``hh_app``, which
``.ci/postgres.sh`` creates with no privilege on any table. Migration 0007 (:mod:`core.db.grants`) must give it
``SELECT, INSERT, UPDATE, DELETE`` on the data tables, only ``SELECT, INSERT`` on ``audit_log`` and only ``SELECT``
on ``alembic_version``. As ``hh_app`` a real store is built from the sample files (reference data, users, the 110
export), a plan is made, approved and checked in; the audit trail still cannot be changed and no table dropped.
"""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from core import settings
from core.db.grants import APPEND_ONLY, DATA_PRIVILEGES, READ_ONLY, grant_app_role
from tests._trust_data import use_fast_hasher

SAMPLES = settings.DATA_DIR / "samples"
APP_URL = os.environ.get("HOSPITAL_HOTSPOTS_TEST_PG_APP", "")
ADMIN_PW = "AppRole-Admin-2026!"
OFFICER_PW = "AppRole-Officer-2026!"
CMD_PW = "AppRole-Command-2026!"
DENIED = r"permission denied|must be owner|append-only"


@pytest.fixture
def pg_store(store_url):
    """(owner URL, app URL) of a fresh migrated PostgreSQL store."""
    if not store_url.startswith("postgresql") or not APP_URL:
        pytest.skip("PostgreSQL with the application role only (.ci/postgres.sh)")
    app = make_url(APP_URL).set(database=make_url(store_url).database).render_as_string(hide_password=False)
    yield store_url, app
    from core.db import get_engine

    get_engine(app).dispose()


def _grants(owner_url: str, role: str) -> dict[str, set[str]]:
    """Table -> privileges of ``role`` on every top-level table of the schema (partitions left out)."""
    eng = create_engine(owner_url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            tables = list(conn.execute(text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "AND c.relname <> 'spatial_ref_sys'")).scalars())
            rows = conn.execute(text(
                "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = :r AND table_schema = current_schema()"), {"r": role}).all()
    finally:
        eng.dispose()
    out: dict[str, set[str]] = {t: set() for t in tables}
    for table, priv in rows:
        if table in out:
            out[table].add(priv)
    return out


def _expected(table: str) -> set[str]:
    if table in APPEND_ONLY:
        return {"SELECT", "INSERT"}
    if table in READ_ONLY:
        return {"SELECT"}
    return set(DATA_PRIVILEGES)


def test_the_app_role_has_exactly_the_privileges_the_application_needs(pg_store):
    owner, app = pg_store
    got = _grants(owner, make_url(app).username)
    assert {"incidents", "hospitals", "users", "plan_plans", "plan_checkins", "persons", "audit_log", "alembic_version"} <= set(got)
    wrong = {t: sorted(p) for t, p in got.items() if p != _expected(t)}
    assert wrong == {}, f"tables without the application's privileges (a migration must grant them): {wrong}"


def test_grant_script_restores_the_privileges_after_a_restore_without_grants(pg_store):
    owner, app = pg_store
    role = make_url(app).username
    eng = create_engine(owner, poolclass=NullPool)
    try:
        with eng.begin() as conn:  # e.g. a dump restored with --no-privileges
            conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
        assert all(not p for p in _grants(owner, role).values())
        assert grant_app_role(eng, role) == role
        with pytest.raises(ValueError, match="不存在"):
            grant_app_role(eng, "no_such_role_hh")
    finally:
        eng.dispose()
    got = _grants(owner, role)
    assert {t: p for t, p in got.items() if p != _expected(t)} == {}


def test_the_app_role_imports_plans_checks_in_but_cannot_change_the_audit_trail(pg_store, monkeypatch, capsys):
    from core.db import get_engine, load_officers
    from core.trust import sessions
    from core.trust.audit import verify_chain
    from core.trust.auth import AuthError, authenticate, create_user
    from planning.checkins import list_checkins, record_checkin
    from planning.cli import main
    from planning.lifecycle import approve_plan, load_document, save_draft
    from planning.plan import make_plan

    use_fast_hasher(monkeypatch)
    _owner, app = pg_store
    monkeypatch.setattr(settings, "DB_URL", app)
    db = ["--db", app]
    # Reference data, users and the 110 export, all through the command line connected as hh_app.
    assert main(["hospitals", "import", str(SAMPLES / "hospitals_sample.csv"), "--crs", "gcj02",
                 "--entrances", str(SAMPLES / "hospital_entrances_sample.csv"), *db]) == 0, capsys.readouterr().err
    assert main(["units", "import", str(SAMPLES / "units_sample.csv"), *db]) == 0, capsys.readouterr().err
    assert main(["roster", "import", str(SAMPLES / "roster_sample.csv"), *db]) == 0, capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PW + "\n"))
    assert main(["users", "add", "chief", "--role", "admin", "--password-stdin", *db]) == 0, capsys.readouterr().err
    assert main(["import", str(SAMPLES / "incidents_sample.csv"), *db]) == 0, capsys.readouterr().err
    engine = get_engine(app)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar_one() > 300

    # Users, sign-in, throttling and sessions.
    create_user(engine, "xiehe1", OFFICER_PW, role="officer", hospital_id="bj001")
    create_user(engine, "zhihui", CMD_PW, role="commander")
    with pytest.raises(AuthError):
        authenticate(engine, "zhihui", "wrong-password-1")
    cmd = authenticate(engine, "zhihui", CMD_PW)
    token = sessions.create(engine, "zhihui")
    assert sessions.resolve(engine, token).username == "zhihui"
    assert sessions.end(engine, token)

    # A plan: made, stored, approved, a visit checked in by its stationed officer.
    plan = make_plan(engine, month="2026-11", seed=3)
    pid = save_draft(engine, plan, username="zhihui")
    approve_plan(engine, pid, scope=cmd)
    doc = load_document(engine, pid)
    officer = authenticate(engine, "xiehe1", OFFICER_PW)
    visit = next(v for v in doc["visits"] if v["officer_id"] == officer.officer_id)
    start = dt.datetime.fromisoformat(visit["start"][:19])
    end = dt.datetime.fromisoformat(visit["end"][:19])
    record_checkin(engine, scope=officer, plan_id=pid, visit_id=visit["visit_id"], status="done",
                   actual_start=start, now=end + dt.timedelta(minutes=5), warned_away=2)
    assert len(list_checkins(engine, plan_id=pid)) == 1
    assert officer.officer_id in set(load_officers(engine)["officer_id"])

    # The trail grew with all of that, is intact, and the app role can only append to it.
    check = verify_chain(engine)
    assert check.ok and check.entries > 5
    for sql in ("UPDATE audit_log SET detail = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log",
                "ALTER TABLE audit_log DISABLE TRIGGER USER", "DROP TABLE incidents",
                "UPDATE alembic_version SET version_num = '0001'"):
        with pytest.raises(DBAPIError, match=DENIED), engine.begin() as conn:
            conn.execute(text(sql))
    assert verify_chain(engine).entries == check.entries
