"""Append-only, tamper-evident audit trail of sign-ins, imports, approvals, overrides and exports.

There is no update or delete API: :func:`record` appends, :func:`list_entries` and
:func:`export_csv` read. An ORM guard makes any attempt to modify or delete an
:class:`AuditEntry` through a session raise :class:`AuditTamperError`; at the database level
SQLite triggers refuse ``UPDATE``, ``DELETE``, ``INSERT OR REPLACE`` over an existing entry and
back-dated entries, and on PostgreSQL a trigger refuses ``UPDATE``/``DELETE``/``TRUNCATE`` while
the application role may only ``SELECT`` and ``INSERT`` (migration 0002).

**Hash chain.** Every entry stores ``prev_hash`` (the ``entry_hash`` of the entry before it,
:data:`GENESIS` for the first) and ``entry_hash`` = SHA-256 of the canonical JSON
``[id, at, username, action, detail, sha256, prev_hash]`` (``at`` as ``YYYY-MM-DD HH:MM:SS.ffffff``).
Times never decrease along the chain. :func:`verify_chain` (``python -m planning audit verify``)
recomputes the chain and reports the first broken link: a rewritten entry (its hash no longer
matches), a deleted one (the next entry's ``prev_hash`` points nowhere), a forged or back-dated one
(wrong hash, or a time earlier than its predecessor). Removing entries at the end leaves a valid
shorter chain; that is caught by comparing with a chain head exported earlier
(:func:`export_csv` writes the head into every export; ``audit verify --head``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from core import settings
from core.db.schema import AuditEntry, table_of

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
    "store_wipe": "清空存储",
    "store_wiped": "存储已重建",
    "store_real": "存储转为真实数据",
    "import_refused": "拒绝导入",
    "throttle_clear": "解除登录限制",
    "session_display": "签发大屏会话",
    "session_end": "结束会话",
    "sso_signin": "统一身份认证登录",
    "sso_pending": "统一身份认证待开通",
    "sso_refused": "统一身份认证被拒绝",
    "personal_export": "导出个人信息",
    "plan_draft": "保存方案草稿",
    "plan_approve": "批准方案",
    "plan_edit": "调整方案",
    "plan_close": "关闭方案",
    "checkin": "巡查签到",
    "action_result": "登记行动成果",
    "persons_import": "导入布控告警",
    "persons_decision": "人员研判确认/拆分",
    "persons_export": "导出团伙线索",
    "persons_handover": "移交重点人员名单",
}

#: ``prev_hash`` of the first entry of a chain.
GENESIS = "0" * 64
#: Triggers that keep the table append-only at the database level (checked by :func:`verify_chain`).
SQLITE_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_overwrite", "audit_log_no_backdate")
PG_TRIGGERS = ("audit_log_no_change", "audit_log_no_truncate", "audit_log_no_backdate")

#: Column labels of the CSV export (Chinese, shown to users).
EXPORT_LABELS = {
    "id": "序号",
    "at": "时间",
    "username": "用户",
    "action": "操作",
    "action_label": "操作名称",
    "detail": "内容",
    "sha256": "文件SHA-256",
    "prev_hash": "前一条哈希",
    "entry_hash": "本条哈希",
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
    from core.db import get_engine

    engine = engine or get_engine()
    fields = {
        "username": (username or "")[:64],
        "action": action[:32],
        "detail": detail or "",
        "sha256": sha256_bytes(data) if data is not None else "",
    }
    t = table_of(AuditEntry)
    # Optimistic append: read the head, insert the next link. A concurrent writer that appended first makes the
    # insert fail (primary key / unique prev_hash, or SQLite's snapshot check), and we retry on the new head.
    for attempt in range(200):
        try:
            with engine.begin() as conn:
                head = conn.execute(select(t.c.id, t.c.at, t.c.entry_hash).order_by(t.c.id.desc()).limit(1)).first()
                prev = head.entry_hash if head is not None else GENESIS
                at = _now_local()
                if head is not None and head.at is not None and at < head.at:
                    at = head.at  # never back-dated, even if the clock stepped back
                new_id = (head.id + 1) if head is not None else 1
                conn.execute(
                    t.insert().values(
                        id=new_id, at=at, prev_hash=prev, entry_hash=entry_hash(new_id, at, prev_hash=prev, **fields),
                        **fields,
                    )
                )
            return
        except DBAPIError as exc:
            race = isinstance(exc, (IntegrityError, OperationalError)) or "back-dated" in str(exc)
            if not race or attempt == 199:
                raise
            time.sleep(random.uniform(0.001, 0.02) * min(attempt + 1, 10))


def entry_hash(
    id: int, at: dt.datetime, *, username: str, action: str, detail: str, sha256: str, prev_hash: str
) -> str:
    """The hash of one audit entry: SHA-256 of its canonical JSON (see the module docstring)."""
    payload = [
        int(id), pd.Timestamp(at).to_pydatetime().isoformat(sep=" ", timespec="microseconds"), username or "",
        action or "", detail or "", sha256 or "", prev_hash,
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify_chain`.

    Attributes
    ----------
    ok
        True when every link holds (and the expected head, if given, is in the chain).
    entries
        Number of entries checked.
    head_id, head_hash
        Id and ``entry_hash`` of the newest entry (None / GENESIS for an empty trail).
    broken_id
        Id of the first entry at which the chain breaks (None when ok or when only triggers are missing).
    problem
        Chinese description of the first problem found ("" when ok).
    """

    ok: bool
    entries: int
    head_id: int | None
    head_hash: str
    broken_id: int | None = None
    problem: str = ""


def chain_head(engine: Engine | None = None) -> tuple[int | None, str]:
    """Id and hash of the newest entry of the trail (``(None, GENESIS)`` when it is empty)."""
    from core.db import get_engine

    t = table_of(AuditEntry)
    with (engine or get_engine()).connect() as conn:
        row = conn.execute(select(t.c.id, t.c.entry_hash).order_by(t.c.id.desc()).limit(1)).first()
    return (row.id, row.entry_hash) if row is not None else (None, GENESIS)


def missing_triggers(engine: Engine) -> list[str]:
    """Names of the append-only triggers that should exist on ``audit_log`` but do not."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            have = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
            want: tuple[str, ...] = SQLITE_TRIGGERS
        elif engine.dialect.name == "postgresql":
            have = set(conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND tgenabled <> 'D'"
            )).scalars())
            want = PG_TRIGGERS
        else:
            return []
    return [n for n in want if n not in have]


def verify_chain(engine: Engine | None = None, *, expected_head: str | None = None) -> ChainReport:
    """Recompute the audit hash chain and report the first broken link.

    Parameters
    ----------
    engine
        Store engine; default the configured store.
    expected_head
        A chain head exported earlier (``entry_hash``); the trail must still contain it, otherwise entries were
        removed from the end or the chain was rebuilt.

    Returns
    -------
    ChainReport
    """
    from core.db import get_engine

    engine = engine or get_engine()
    t = table_of(AuditEntry)
    prev, prev_at, prev_id, n = GENESIS, None, None, 0
    seen_expected = expected_head is None or expected_head == GENESIS

    def broken(row_id: int | None, problem: str) -> ChainReport:
        return ChainReport(False, n, prev_id, prev, row_id, problem)

    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(select(t).order_by(t.c.id))
        for row in result:
            n += 1
            if row.prev_hash != prev:
                what = "第一条记录" if prev_id is None else f"第 {prev_id} 号记录"
                return broken(row.id, f"第 {row.id} 号记录的“前一条哈希”与{what}不符：其前有记录被删除、插入或改写。")
            want = entry_hash(
                row.id, row.at, username=row.username, action=row.action, detail=row.detail, sha256=row.sha256,
                prev_hash=row.prev_hash,
            )
            if row.entry_hash != want:
                return broken(row.id, f"第 {row.id} 号记录的内容与其哈希不符：该记录被改写或伪造。")
            if prev_at is not None and row.at < prev_at:
                return broken(row.id, f"第 {row.id} 号记录的时间 {row.at} 早于前一条 {prev_at}：疑为补记或伪造。")
            if expected_head is not None and row.entry_hash == expected_head:
                seen_expected = True
            prev, prev_at, prev_id = row.entry_hash, row.at, row.id
    if not seen_expected and expected_head is not None:
        return ChainReport(
            False, n, prev_id, prev, None,
            f"先前导出的链头 {expected_head[:16]}… 已不在审计记录中：末尾记录被删除或整条链被重建。",
        )
    missing = missing_triggers(engine)
    if missing:
        return ChainReport(
            False, n, prev_id, prev, None, f"审计表的防篡改触发器缺失：{'、'.join(missing)}（数据库被直接改动过）。"
        )
    return ChainReport(True, n, prev_id, prev)


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
    t = table_of(AuditEntry)
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

    Every row carries its ``prev_hash`` and ``entry_hash``, so the chain can be checked outside the
    system; the chain head at the time of the export is written into the ``audit_export`` entry (and
    returned by :func:`export_with_head`).

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
    return export_with_head(engine, scope=scope, **filters)[0]


def export_with_head(engine: Engine | None = None, *, scope=None, **filters) -> tuple[bytes, dict]:
    """Like :func:`export_csv`, also returning the chain head: ``{"head_id", "head_hash", "entries", "sha256"}``.

    Keep the head outside the system (print it, file it with the export): ``audit verify --head HASH`` later
    proves that no entry up to it was removed or rewritten.
    """
    from core.safeio import frame_to_csv_bytes

    df = list_entries(engine, scope=scope, **filters).sort_values("id")
    df["at"] = df["at"].astype(str)
    head_id, head_hash = chain_head(engine)
    data = frame_to_csv_bytes(df.rename(columns=EXPORT_LABELS))
    who = getattr(scope, "username", "") or "system"
    record(
        "audit_export", username=who, detail=f"导出审计记录 {len(df)} 条；导出时链头 序号 {head_id} 哈希 {head_hash}",
        data=data, engine=engine,
    )
    return data, {"head_id": head_id, "head_hash": head_hash, "entries": len(df), "sha256": sha256_bytes(data)}
