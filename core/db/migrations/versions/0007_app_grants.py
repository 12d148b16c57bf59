"""app grants: the application role's privileges on every table (PostgreSQL only)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

0002 granted the application role (``hh_app``) only the trust tables; the baseline, campaign, reference and
persons tables and the id sequences had no grant, so the dashboard could not even start as that role. This
revision gives it exactly what :mod:`core.db.grants` describes: ``SELECT, INSERT, UPDATE, DELETE`` on every data
table, ``SELECT, INSERT`` on ``audit_log``, ``SELECT`` on ``alembic_version``, ``USAGE, SELECT`` on sequences.
The role is ``HOSPITAL_HOTSPOTS_APP_ROLE`` (default ``hh_app``); nothing happens when it does not exist.
SQLite has no roles: nothing to do. A later revision that adds a table grants it the same way.
"""

from __future__ import annotations

import os
import re

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: Frozen copy of core.db.grants.app_grants_sql (a migration must not change when the code does).
GRANTS = """
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
        IF t.relname IN ('audit_log') THEN
            EXECUTE format('GRANT SELECT, INSERT ON TABLE %I TO {role}', t.relname);
        ELSIF t.relname IN ('alembic_version') THEN
            EXECUTE format('GRANT SELECT ON TABLE %I TO {role}', t.relname);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I TO {role}', t.relname);
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

REVOKE = """
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
          AND c.relname NOT IN ('spatial_ref_sys', 'audit_log', 'auth_sessions', 'login_throttle')
    LOOP
        EXECUTE format('REVOKE ALL ON TABLE %I FROM {role}', t.relname);
    END LOOP;
    FOR t IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind = 'S'
    LOOP
        EXECUTE format('REVOKE ALL ON SEQUENCE %I FROM {role}', t.relname);
    END LOOP;
END
$$
"""


def _role() -> str:
    role = os.environ.get("HOSPITAL_HOTSPOTS_APP_ROLE", "").strip() or "hh_app"
    if not _IDENT.match(role):
        raise ValueError(f"HOSPITAL_HOTSPOTS_APP_ROLE must be a plain lower-case identifier, got {role!r}.")
    return role


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(GRANTS.format(role=_role()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REVOKE.format(role=_role()))
