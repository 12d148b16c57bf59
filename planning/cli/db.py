"""Store subcommands: ``db upgrade`` (migrate to the newest schema) and ``db current`` (where a store stands)."""

from __future__ import annotations

import argparse

from core import settings
from core.db import migrate
from core.db.engine import make_engine


def _engine(args: argparse.Namespace):
    # Not get_engine: it would already upgrade, and `db current` must report the store as it is.
    return make_engine(args.db or settings.DB_URL)


def _upgrade(args: argparse.Namespace) -> int:
    engine = _engine(args)
    before = migrate.current(engine)
    after = migrate.upgrade(engine, args.revision)
    print(f"存储结构已升级：{before or '（空库或 0.1 版）'} → {after}" if before != after else f"存储结构已是最新：{after}")
    return 0


def _current(args: argparse.Namespace) -> int:
    engine = _engine(args)
    rev = migrate.current(engine)
    state = "最新" if rev == migrate.head() else f"需升级到 {migrate.head()}（python -m planning db upgrade）"
    print(f"当前结构版本：{rev or '无（空库或 0.1 版）'}，{state}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``db upgrade`` and ``db current``."""
    p = sub.add_parser("db", help="存储结构：升级与查看版本")
    dsub = p.add_subparsers(dest="db_command", required=True)
    u = dsub.add_parser("upgrade", help="升级到最新结构（先备份；在一个事务中完成）")
    u.add_argument("--revision", default="head")
    u.add_argument("--db", default=None, help="SQLAlchemy URL，默认 HOSPITAL_HOTSPOTS_DB 或内置 SQLite")
    u.set_defaults(func=_upgrade)
    c = dsub.add_parser("current", help="查看当前结构版本")
    c.add_argument("--db", default=None)
    c.set_defaults(func=_current)
