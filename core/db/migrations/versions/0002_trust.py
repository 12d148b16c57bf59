"""trust: hash-chained audit trail, browser sessions, login throttling (issue 11)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

* ``audit_log`` gains ``prev_hash`` and ``entry_hash``; the entries already stored are chained in id order.
* SQLite: the append-only triggers are re-created and joined by an insert trigger that refuses an existing id or
  ``prev_hash`` (``INSERT OR REPLACE`` would otherwise delete the old row without firing a delete trigger) and a
  back-dated entry.
* PostgreSQL: a trigger refuses ``UPDATE``, ``DELETE``, ``TRUNCATE`` and back-dated inserts; the application role
  ``hh_app`` (if it exists) may only ``SELECT`` and ``INSERT`` on ``audit_log``.
* New tables ``auth_sessions`` and ``login_throttle``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Frozen copy of core.trust.audit's chain rule (a migration must not change when the code does).
GENESIS = "0" * 64
APP_ROLE = "hh_app"


def _entry_hash(row, prev_hash: str) -> str:
    at = dt.datetime.fromisoformat(row.at) if isinstance(row.at, str) else row.at
    payload = [
        int(row.id), at.isoformat(sep=" ", timespec="microseconds"), row.username or "", row.action or "",
        row.detail or "", row.sha256 or "", prev_hash,
    ]
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_overwrite BEFORE INSERT ON audit_log "
    "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id OR prev_hash = NEW.prev_hash) "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entry exists'); END",
    "CREATE TRIGGER audit_log_no_backdate BEFORE INSERT ON audit_log "
    "WHEN NEW.at < (SELECT max(at) FROM audit_log) "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: back-dated entry'); END",
)

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.at < (SELECT max(at) FROM audit_log) THEN
            RAISE EXCEPTION 'audit_log is append-only: back-dated entry';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END
$$
"""
PG_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_guard()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard()",
    "CREATE TRIGGER audit_log_no_backdate BEFORE INSERT ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_guard()",
)
PG_GRANTS = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        REVOKE ALL ON audit_log FROM {APP_ROLE};
        GRANT SELECT, INSERT ON audit_log TO {APP_ROLE};
        GRANT SELECT, INSERT, UPDATE, DELETE ON auth_sessions, login_throttle TO {APP_ROLE};
    END IF;
END
$$
"""


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=False, server_default=""))

    # Chain the entries already stored (release 0.1 stores), oldest first.
    log = sa.table(
        "audit_log", sa.column("id", sa.Integer), sa.column("at", sa.DateTime), sa.column("username", sa.String),
        sa.column("action", sa.String), sa.column("detail", sa.Text), sa.column("sha256", sa.String),
        sa.column("prev_hash", sa.String), sa.column("entry_hash", sa.String),
    )
    prev = GENESIS
    rows = bind.execute(sa.select(log).order_by(log.c.id)).fetchall()
    for row in rows:
        h = _entry_hash(row, prev)
        bind.execute(sa.update(log).where(log.c.id == row.id).values(prev_hash=prev, entry_hash=h))
        prev = h

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ux_audit_log_prev_hash", ["prev_hash"], unique=True)

    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=False),
        sa.Column("personal", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_auth_sessions_username", ["username"], unique=False)
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.DateTime(), nullable=True),
        sa.Column("next_allowed", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )

    if dialect == "sqlite":
        for sql in SQLITE_TRIGGERS:
            op.execute(sql)
    elif dialect == "postgresql":
        op.execute(PG_FUNCTION)
        for sql in PG_TRIGGERS:
            op.execute(sql)
        op.execute(PG_GRANTS)


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite":
        for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_overwrite", "audit_log_no_backdate"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        for name in ("audit_log_no_change", "audit_log_no_truncate", "audit_log_no_backdate"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_guard()")
    op.drop_table("login_throttle")
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_sessions_username")
    op.drop_table("auth_sessions")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ux_audit_log_prev_hash")
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
