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
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import settings
from core.db.schema import AuditEntry

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
    "plan_draft": "保存方案草稿",
    "plan_approve": "批准方案",
    "plan_edit": "调整方案",
    "plan_close": "关闭方案",
    "checkin": "巡查签到",
    "action_result": "登记行动成果",
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
    from core.db import get_engine, session_scope

    engine = engine or get_engine()
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
        Caller's :class:`~core.trust.access.AccessScope`; only ``admin`` may read the trail
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
    from core.db import get_engine
    from core.trust.access import require

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
    from core.safeio import frame_to_csv_bytes

    df = list_entries(engine, scope=scope, **filters).sort_values("id")
    df["at"] = df["at"].astype(str)
    data = frame_to_csv_bytes(df.rename(columns=EXPORT_LABELS))
    who = getattr(scope, "username", "") or "system"
    record("audit_export", username=who, detail=f"导出审计记录 {len(df)} 条", data=data, engine=engine)
    return data
