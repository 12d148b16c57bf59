"""Subcommands for users, the audit trail and role-limited statistics exports.

``python -m planning users add NAME --role admin`` creates the first administrator (the
password is read from a hidden prompt, or from standard input with ``--password-stdin``;
there is no default password). ``users list | disable | enable | passwd | throttle``
and ``stats export --out FILE.csv [--user NAME]`` (``audit`` is in :mod:`planning.cli.audit`).

Commands run by the operator on the server act with :data:`core.trust.access.SYSTEM`; ``--user``
signs in as that user first (password as above) so the command sees exactly that user's
share. Other CLI modules can reuse :func:`add_user_options` and :func:`scope_from_args`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from core.trust.access import ROLES, SYSTEM, AccessScope


def _engine(args: argparse.Namespace):
    from core.db import get_engine

    return get_engine(getattr(args, "db", None) or None)


def _read_password(args: argparse.Namespace, *, confirm: bool = False) -> str:
    """The password from stdin (``--password-stdin``) or a hidden prompt."""
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise ValueError("标准输入中没有读到密码（--password-stdin）。")
        return password
    if not sys.stdin.isatty():
        raise ValueError("无法交互输入密码：请在终端中运行，或使用 --password-stdin。")
    password = getpass.getpass("密码: ")
    if confirm and getpass.getpass("再次输入密码: ") != password:
        raise ValueError("两次输入的密码不一致。")
    return password


def add_user_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--user`` and ``--password-stdin`` (act as a signed-in user) and ``--db`` to a parser."""
    parser.add_argument("--user", default=None, help="以该用户身份执行（需输入密码），只看到其权限范围内的数据")
    parser.add_argument("--password-stdin", action="store_true", help="从标准输入第一行读取密码")
    _add_db(parser)


def scope_from_args(args: argparse.Namespace, engine=None) -> AccessScope:
    """Sign in as ``--user`` (reading the password) or return the operator's SYSTEM scope."""
    from core.trust.auth import AuthError, authenticate

    if not getattr(args, "user", None):
        return SYSTEM
    password = _read_password(args)
    try:
        return authenticate(engine or _engine(args), args.user, password, source="cli")
    except AuthError as exc:
        raise PermissionError(str(exc)) from None


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, help="数据库 URL（默认使用配置的存储）")


# --------------------------------------------------------------------------- users


def _users_add(args: argparse.Namespace) -> int:
    from core.trust.auth import create_user

    engine = _engine(args)
    password = _read_password(args, confirm=True)
    info = create_user(
        engine, args.username, password, role=args.role, hospital_id=args.hospital,
        officer_id=args.officer, display_name=args.name or "", created_by="cli",
    )
    where = f"，医院 {info.hospital_id}" if info.hospital_id else ""
    print(f"已创建用户 {info.username}（{ROLES[info.role]}{where}）。")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    from core.trust.auth import list_users

    df = list_users(_engine(args), scope=SYSTEM)
    if df.empty:
        print("尚无用户。请先创建管理员：python -m planning users add 用户名 --role admin")
        return 0
    for row in df.itertuples(index=False):
        state = "启用" if row.active else "停用"
        extra = f" 医院={row.hospital_id}" if isinstance(row.hospital_id, str) and row.hospital_id else ""
        demo = " [演示]" if row.demo else ""
        print(f"{row.username}\t{row.role_label}\t{state}{extra}{demo}\t{row.display_name or ''}")
    return 0


def _users_disable(args: argparse.Namespace) -> int:
    from core.trust.auth import set_active

    set_active(_engine(args), args.username, False, by="cli")
    print(f"已停用用户 {args.username}。")
    return 0


def _users_enable(args: argparse.Namespace) -> int:
    from core.trust.auth import set_active

    set_active(_engine(args), args.username, True, by="cli")
    print(f"已启用用户 {args.username}。")
    return 0


def _users_passwd(args: argparse.Namespace) -> int:
    from core.trust.auth import get_user, set_password

    engine = _engine(args)
    if get_user(engine, args.username) is None:
        raise ValueError(f"`username` {args.username!r} 不存在。")
    set_password(engine, args.username, _read_password(args, confirm=True), by="cli")
    print(f"已重置用户 {args.username} 的密码。")
    return 0


def _throttle_list(args: argparse.Namespace) -> int:
    from core.trust.auth import list_throttles

    df = list_throttles(_engine(args), scope=SYSTEM)
    if df.empty:
        print("当前没有被放慢的用户名或来源地址。")
        return 0
    for row in df.itertuples(index=False):
        kind = "用户名" if row.kind == "user" else "来源地址"
        wait = f"需等待 {row.wait_s} 秒" if row.wait_s else "可立即重试"
        print(f"{row.key}\t{kind}\t失败 {row.failures} 次\t最近 {row.last_failure}\t{wait}")
    return 0


def _throttle_clear(args: argparse.Namespace) -> int:
    from core.trust.auth import clear_throttle

    key = args.key if ":" in args.key else f"user:{args.key}"
    if clear_throttle(_engine(args), key, by="cli", scope=SYSTEM):
        print(f"已解除 {key} 的登录限制。")
    else:
        print(f"{key} 当前没有登录失败记录。")
    return 0


# --------------------------------------------------------------------------- stats


def _stats_export(args: argparse.Namespace) -> int:
    from core.db.aggregates import export_counts_csv

    engine = _engine(args)
    scope = scope_from_args(args, engine)
    data = export_counts_csv(engine, scope=scope, start=args.start, end=args.end)
    Path(args.out).write_bytes(data)
    print(f"已导出汇总统计到 {args.out}（不含个人信息）。")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``users`` and ``stats`` subcommands to the parser (``audit`` lives in :mod:`planning.cli.audit`)."""
    users = sub.add_parser("users", help="用户管理（新增、列表、停用、启用、重置密码）")
    usub = users.add_subparsers(dest="users_command", required=True)

    p = usub.add_parser("add", help="新增用户（密码从提示或标准输入读取）")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=sorted(ROLES), help="commander|officer|liaison|admin")
    p.add_argument("--hospital", default=None, help="驻院民警所属医院编号")
    p.add_argument("--officer", default=None, help="驻院民警的民警编号（默认取该医院第一位驻院民警）")
    p.add_argument("--name", default=None, help="显示名称")
    p.add_argument("--password-stdin", action="store_true", help="从标准输入第一行读取密码")
    _add_db(p)
    p.set_defaults(func=_users_add)

    p = usub.add_parser("list", help="列出用户")
    _add_db(p)
    p.set_defaults(func=_users_list)

    for name, func, text in (("disable", _users_disable, "停用用户"), ("enable", _users_enable, "启用用户")):
        p = usub.add_parser(name, help=text)
        p.add_argument("username")
        _add_db(p)
        p.set_defaults(func=func)

    p = usub.add_parser("passwd", help="重置密码")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true", help="从标准输入第一行读取密码")
    _add_db(p)
    p.set_defaults(func=_users_passwd)

    p = usub.add_parser("throttle", help="查看或解除登录放慢（按用户名和来源地址计数）")
    tsub = p.add_subparsers(dest="throttle_command", required=True)
    q = tsub.add_parser("list", help="列出被计数的用户名和来源地址")
    _add_db(q)
    q.set_defaults(func=_throttle_list)
    q = tsub.add_parser("clear", help="清除一个用户名（或 source:地址）的失败计数")
    q.add_argument("key", help="用户名，或 user:用户名 / source:地址")
    _add_db(q)
    q.set_defaults(func=_throttle_clear)

    stats = sub.add_parser("stats", help="汇总统计（按医院×月份×类别，不含个人信息）")
    ssub = stats.add_subparsers(dest="stats_command", required=True)
    p = ssub.add_parser("export", help="导出汇总统计 CSV")
    p.add_argument("--out", required=True, help="输出 CSV 文件")
    p.add_argument("--start", default=None, help="起始日期（含）")
    p.add_argument("--end", default=None, help="结束日期（不含）")
    add_user_options(p)
    p.set_defaults(func=_stats_export)
