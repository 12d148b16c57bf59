"""Reference data subcommands: ``hospitals import``, ``units import``, ``roster import`` (and ``entrances import``).

A new deployment loads these before its first incident import (``docs/deployment.md``). Each prints one JSON
summary line like ``import``: counts that add up (accepted + rejected + duplicates = total) and the quarantine
file of the rejected rows.
"""

from __future__ import annotations

import argparse
import json
import sys

_HELP = {
    "hospitals": ("医院名单：导入医院（编号、名称、等级、所属区、坐标、挂号时间、出入口）",
                  "导入医院名单（CSV/XLSX；XLSX 的“出入口”工作表一并导入）"),
    "entrances": ("医院出入口：导入出入口坐标", "导入医院出入口（CSV/XLSX）"),
    "units": ("警力单位：导入驻院警务室、派出所、机动警力", "导入警力单位（CSV/XLSX）"),
    "roster": ("民警花名册：导入民警、班次与休息日", "导入民警花名册（CSV/XLSX）"),
}


def _import(args: argparse.Namespace) -> int:
    from core.db import get_engine
    from geo.io.ingest import ImportError_
    from geo.io.reference import import_reference

    kwargs = {}
    if args.kind == "hospitals" and args.entrances:
        kwargs["entrances"] = args.entrances
    try:
        result = import_reference(
            args.kind, args.file, engine=get_engine(args.db), crs=getattr(args, "crs", None), sheet=args.sheet,
            username=args.user, **kwargs,
        )
    except ImportError_ as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.summary(), ensure_ascii=False))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``hospitals``, ``entrances``, ``units`` and ``roster``, each with an ``import`` subcommand."""
    for kind, (group_help, import_help) in _HELP.items():
        group = sub.add_parser(kind, help=group_help)
        gsub = group.add_subparsers(dest=f"{kind}_command", required=True)
        p = gsub.add_parser("import", help=import_help)
        p.add_argument("file")
        if kind in ("hospitals", "entrances"):
            p.add_argument("--crs", choices=["wgs84", "gcj02", "bd09"], default="wgs84",
                           help="文件中坐标的坐标系（默认 wgs84；“坐标系”列可逐行指定）")
        if kind == "hospitals":
            p.add_argument("--entrances", default=None, help="出入口文件（CSV/XLSX），与医院名单在同一事务中导入")
        p.add_argument("--sheet", default=None, help="XLSX 工作表名称（默认第一个）")
        p.add_argument("--db", default=None, help="SQLAlchemy URL，默认 HOSPITAL_HOTSPOTS_DB 或内置 SQLite")
        p.add_argument("--user", default="cli")
        p.set_defaults(func=_import, kind=kind)
