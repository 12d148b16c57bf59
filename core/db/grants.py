"""Privileges of the application's PostgreSQL role (issue 11): what the dashboard and the CLI need, nothing more.

The schema belongs to an owner role that runs the migrations (``python -m planning db upgrade``); the dashboard
and the CLI connect as an application role (``hh_app`` by default, ``HOSPITAL_HOTSPOTS_APP_ROLE`` to name another)
that may

* ``SELECT, INSERT, UPDATE, DELETE`` every data table of the schema (not the partitions of ``incidents``: rows
  reach them through the partitioned parent, whose privileges PostgreSQL checks);
* only ``SELECT, INSERT`` the audit trail ``audit_log`` (its triggers refuse changes even to the owner);
* only ``SELECT`` ``alembic_version`` (every engine start checks the schema is current; only the owner migrates);
* ``USAGE, SELECT`` the id sequences (to insert rows; not ``UPDATE``, so it cannot ``setval``);
* no DDL: it owns nothing, so it cannot drop, alter or disable a trigger.

Migration ``0007`` grants this when it runs (with a frozen copy of :func:`app_grants_sql`). If the DBA creates
the application role after the migrations ran, or tables were restored from a dump without their grants, run
as the owner::

    python -m core.db.grants            # the role of HOSPITAL_HOTSPOTS_APP_ROLE, default hh_app
    python -m core.db.grants --print    # only print the SQL (for the DBA)
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from sqlalchemy import text
from sqlalchemy.engine import Engine

#: The application role when ``HOSPITAL_HOTSPOTS_APP_ROLE`` is not set.
DEFAULT_APP_ROLE = "hh_app"
#: Tables the application may only read and append to.
APPEND_ONLY = ("audit_log",)
#: Tables the application may only read.
READ_ONLY = ("alembic_version",)
#: Privileges on every other table of the schema.
DATA_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def app_role() -> str:
    """The application role's name (``HOSPITAL_HOTSPOTS_APP_ROLE``, default :data:`DEFAULT_APP_ROLE`)."""
    role = os.environ.get("HOSPITAL_HOTSPOTS_APP_ROLE", "").strip() or DEFAULT_APP_ROLE
    if not _IDENT.match(role):
        raise ValueError(f"应用数据库角色名不合法：{role!r}（只允许小写字母、数字和下划线）。")
    return role


def app_grants_sql(role: str) -> str:
    """A PL/pgSQL block giving ``role`` exactly the privileges above on the current schema (no-op without it)."""
    if not _IDENT.match(role):
        raise ValueError(f"`role` must be a plain lower-case identifier, got {role!r}.")
    append_only = ", ".join(f"'{t}'" for t in APPEND_ONLY)
    read_only = ", ".join(f"'{t}'" for t in READ_ONLY)
    data = ", ".join(DATA_PRIVILEGES)
    return f"""
DO $$
DECLARE
    t record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        RETURN;
    END IF;
    FOR t IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND c.relname <> 'spatial_ref_sys'
    LOOP
        EXECUTE format('REVOKE ALL ON TABLE %I FROM {role}', t.relname);
        IF t.relname IN ({append_only}) THEN
            EXECUTE format('GRANT SELECT, INSERT ON TABLE %I TO {role}', t.relname);
        ELSIF t.relname IN ({read_only}) THEN
            EXECUTE format('GRANT SELECT ON TABLE %I TO {role}', t.relname);
        ELSE
            EXECUTE format('GRANT {data} ON TABLE %I TO {role}', t.relname);
        END IF;
    END LOOP;
    FOR t IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind = 'S'
    LOOP
        EXECUTE format('REVOKE ALL ON SEQUENCE %I FROM {role}', t.relname);
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I TO {role}', t.relname);
    END LOOP;
END
$$
"""


def grant_app_role(engine: Engine, role: str | None = None) -> str:
    """Give the application role its privileges on ``engine``'s PostgreSQL store (run as the owner).

    Returns the role name. Raises ``ValueError`` on a store that is not PostgreSQL or a role that does not exist.
    """
    role = role or app_role()
    if engine.dialect.name != "postgresql":
        raise ValueError("数据库角色授权只适用于 PostgreSQL 存储。")
    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is None:
            raise ValueError(f"数据库角色 {role} 不存在，请先由数据库管理员创建（CREATE ROLE {role} LOGIN …）。")
        conn.execute(text(app_grants_sql(role)))
    return role


def main(argv: list[str] | None = None) -> int:
    """``python -m core.db.grants [--role R] [--print]``: grant (or print) the application role's privileges."""
    from core import settings
    from core.db.engine import make_engine

    parser = argparse.ArgumentParser(prog="python -m core.db.grants", description="为应用数据库角色授予所需权限")
    parser.add_argument("--role", default=None, help=f"应用角色（默认 HOSPITAL_HOTSPOTS_APP_ROLE 或 {DEFAULT_APP_ROLE}）")
    parser.add_argument("--print", action="store_true", dest="print_only", help="只打印 SQL，不执行")
    args = parser.parse_args(argv)
    try:
        role = args.role or app_role()
        if args.print_only:
            print(app_grants_sql(role).strip())
            return 0
        engine = make_engine(settings.DB_URL)
        grant_app_role(engine, role)
    except Exception as exc:  # one Chinese line, not a traceback
        print(f"授权失败：{exc}", file=sys.stderr)
        return 1
    print(f"已为数据库角色 {role} 授予应用所需权限（数据表增删改查；审计表只读和追加）。")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
