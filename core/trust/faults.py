"""Faults of the store told in one Chinese line: what happened and what to do (CLI and dashboard error page).

:func:`describe_fault` recognises a read-only store, a full disk, a corrupted or locked SQLite file and an
unreachable PostgreSQL server from the exception (SQLAlchemy wraps the driver's error; ``OSError`` codes for the
file system) and returns the message, or None for anything else (a real bug, which keeps its traceback).
"""

from __future__ import annotations

import errno

#: (substrings of the error text, message). Checked in order, lower-case.
_PATTERNS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("readonly database", "read-only file system", "read only file system"),
     "存储为只读，无法写入：请检查数据库文件及其所在目录的写权限，或磁盘是否以只读方式挂载；本次操作未写入数据。"),
    (("database or disk is full", "no space left on device", "disk full", "could not extend file"),
     "磁盘空间已满：请清理存储所在磁盘后重试；本次操作未写入数据（数据库保持操作前的状态）。"),
    (("file is not a database", "database disk image is malformed", "malformed"),
     "数据库文件已损坏，无法读取：请停止写入并从备份恢复该文件（或联系管理员）；不要删除原文件。"),
    (("database is locked", "database table is locked"),
     "数据库被其他程序占用（锁定）：请等待正在进行的导入或写入完成后重试。"),
    (("connection refused", "could not connect", "connection timed out", "could not translate host name",
      "name or service not known", "server closed the connection", "no route to host", "connection to server"),
     "无法连接 PostgreSQL 数据库：请检查数据库服务是否启动、网络是否连通，以及 HOSPITAL_HOTSPOTS_DB 地址是否正确。"),
    (("password authentication failed", "permission denied for"),
     "数据库拒绝访问：请检查数据库用户名、密码及其权限设置（HOSPITAL_HOTSPOTS_DB）。"),
    (("unable to open database file",),
     "无法打开数据库文件：请检查路径是否存在、是否有读写权限（HOSPITAL_HOTSPOTS_DB / HOSPITAL_HOTSPOTS_VAR）。"),
)
_ERRNO = {
    errno.EROFS: _PATTERNS[0][1],
    errno.ENOSPC: _PATTERNS[1][1],
    errno.EDQUOT: _PATTERNS[1][1],
}


def describe_fault(exc: BaseException) -> str | None:
    """One Chinese line for a store fault (cause and remedy), or None when ``exc`` is not one."""
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError, OperationalError

    seen: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in seen:
        seen.append(e)
        e = getattr(e, "orig", None) or e.__cause__ or e.__context__
    for e in seen:
        if isinstance(e, OSError) and e.errno in _ERRNO:
            return _ERRNO[e.errno]
    is_db = any(isinstance(e, (DBAPIError, OperationalError)) for e in seen) or any(
        type(e).__module__.startswith(("sqlite3", "psycopg")) for e in seen
    )
    if isinstance(exc, NoSuchModuleError):
        return "数据库地址的类型不受支持：请检查 HOSPITAL_HOTSPOTS_DB（例如 sqlite:///路径 或 postgresql+psycopg://…）。"
    text = " ".join(str(e) for e in seen).lower()
    for needles, message in _PATTERNS:
        if any(n in text for n in needles) and (is_db or isinstance(exc, OSError)):
            return message
    return None
