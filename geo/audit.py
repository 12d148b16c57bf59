"""Append-only audit trail of sign-ins, imports, approvals, overrides and exports.

There is no update or delete API: :func:`record` appends, :func:`list_entries` and
:func:`export_csv` read. An ORM guard makes any attempt to modify or delete an
:class:`AuditEntry` through a session raise :class:`AuditTamperError`, and on SQLite two
triggers refuse ``UPDATE`` and ``DELETE`` on the table even from raw SQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
from sqlalchemy import DDL, DateTime, Integer, String, Text, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from geo import settings
from geo.store import Base

#: Actions written by the project (free text is allowed, these are the usual ones).
ACTIONS = {
    "signin": "登录",
    "signin_failed": "登录失败",
    "signout": "退出",
    "lockout": "账户锁定",
    "import": "导入",
    "approve": "审批",
    "override": "人工调整",
    "export": "导出",
    "unmask": "查看个人信息",
    "user_add": "新增用户",
    "user_disable": "停用用户",
    "user_enable": "启用用户",
    "user_password": "重置密码",
    "audit_export": "导出审计记录",
}

#: Column labels of the CSV export (Chinese, shown to users).
EXPORT_LABELS = {
    "id": "序号",
    "at": "时间",
    "username": "用户",
    "action": "操作",
    "action_label": "操作名称",
    "detail": "内容",
    "sha256": "文件SHA-256",
}


class AuditTamperError(RuntimeError):
    """Raised on any attempt to change or delete an audit entry."""


class AuditEntry(Base):
    """One audited action: who, when, what, and the SHA-256 of an exported file."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive, Asia/Shanghai
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32))  # see ACTIONS
    detail: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")


# SQLite: refuse UPDATE/DELETE at the database level too (raw SQL, other programs).
_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    for op in ("UPDATE", "DELETE")
]
for _sql in _TRIGGERS:
    event.listen(AuditEntry.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
_HAS_TRIGGERS: set[int] = set()


def _ensure_triggers(engine: Engine) -> None:
    """Add the triggers to stores whose audit table was created before they existed."""
    if id(engine) in _HAS_TRIGGERS:
        return
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            for sql in _TRIGGERS:
                conn.exec_driver_sql(sql)
    _HAS_TRIGGERS.add(id(engine))


@event.listens_for(Session, "before_flush")
def _guard_audit_entries(session: Session, _flush_context, _instances) -> None:
    """Refuse ORM updates and deletes of audit entries."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTamperError("审计记录只能追加，不能修改或删除。")


@event.listens_for(AuditEntry, "before_update")
def _no_update(_mapper, _conn, _target) -> None:
    raise AuditTamperError("审计记录只能追加，不能修改或删除。")


@event.listens_for(AuditEntry, "before_delete")
def _no_delete(_mapper, _conn, _target) -> None:
    raise AuditTamperError("审计记录只能追加，不能修改或删除。")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _now_local() -> dt.datetime:
    return pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None).to_pydatetime()


def record(
    action: str,
    *,
    username: str = "",
    detail: str = "",
    data: bytes | None = None,
    engine: Engine | None = None,
) -> None:
    """Append one entry to the audit trail (hashing ``data`` when given).

    Parameters
    ----------
    action
        What happened, a key of :data:`ACTIONS` (e.g. ``"export"``).
    username
        Who did it.
    detail
        What exactly (file name, month, counts ...), in Chinese.
    data
        The exported bytes; only their SHA-256 is stored.
    engine
        Store engine; default the configured store.
    """
    if not action:
        raise ValueError("`action` must not be empty.")
    from geo.store import get_engine, session_scope

    engine = engine or get_engine()
    _ensure_triggers(engine)
    with session_scope(engine) as s:
        s.add(
            AuditEntry(
                at=_now_local(),
                username=username or "",
                action=action[:32],
                detail=detail or "",
                sha256=sha256_bytes(data) if data is not None else "",
            )
        )


def list_entries(
    engine: Engine | None = None,
    *,
    scope=None,
    action: str | None = None,
    username: str | None = None,
    start: dt.datetime | str | None = None,
    end: dt.datetime | str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The audit trail, newest first, for administrators.

    Parameters
    ----------
    engine
        Store engine; default the configured store.
    scope
        Caller's :class:`~geo.access.AccessScope`; only ``admin`` may read the trail
        (None = internal use).
    action, username
        Optional exact filters.
    start, end
        Optional half-open local time range.
    limit
        At most this many entries.

    Returns
    -------
    pandas.DataFrame
        Columns id, at, username, action, action_label, detail, sha256.
    """
    from geo.access import require
    from geo.store import get_engine

    require(scope, roles=("admin",))
    t = AuditEntry.__table__
    stmt = select(t)
    if action:
        stmt = stmt.where(t.c.action == action)
    if username:
        stmt = stmt.where(t.c.username == username)
    if start is not None:
        stmt = stmt.where(t.c.at >= pd.Timestamp(start).to_pydatetime())
    if end is not None:
        stmt = stmt.where(t.c.at < pd.Timestamp(end).to_pydatetime())
    stmt = stmt.order_by(t.c.id.desc())
    if limit is not None:
        stmt = stmt.limit(int(limit))
    with (engine or get_engine()).connect() as conn:
        df = pd.read_sql(stmt, conn)
    df.insert(4, "action_label", df["action"].map(lambda a: ACTIONS.get(a, a)).astype(object))
    return df


def export_csv(engine: Engine | None = None, *, scope=None, **filters) -> bytes:
    """Export the audit trail as a UTF-8 (BOM) CSV with Chinese headers, and record the export.

    Parameters
    ----------
    engine
        Store engine.
    scope
        Caller's scope; only administrators may export.
    **filters
        Passed to :func:`list_entries`.

    Returns
    -------
    bytes
        The CSV file; its SHA-256 is written to the trail as an ``audit_export`` entry.
    """
    from geo.safeio import frame_to_csv_bytes

    df = list_entries(engine, scope=scope, **filters).sort_values("id")
    df["at"] = df["at"].astype(str)
    data = frame_to_csv_bytes(df.rename(columns=EXPORT_LABELS))
    who = getattr(scope, "username", "") or "system"
    record("audit_export", username=who, detail=f"导出审计记录 {len(df)} 条", data=data, engine=engine)
    return data
