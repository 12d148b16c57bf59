"""Data subcommands: ``demo`` (rebuild the synthetic demo store) and ``import`` (one file)."""

from __future__ import annotations

import argparse
import json
import sys


def _demo(args: argparse.Namespace) -> int:
    from core import settings
    from core.db import get_engine, incident_count, is_demo, load_hospitals
    from geo.io.demo import build_demo

    url = args.db or settings.DB_URL
    if args.if_missing:
        engine = get_engine(url)
        if incident_count(engine) > 0:
            print(f"存储中已有数据（{'演示' if is_demo(engine) else '真实'}），跳过生成演示数据。", file=sys.stderr)
            return 0
        if not is_demo(engine) and len(load_hospitals(engine)):
            # A real deployment that has loaded its hospital list but no incidents yet (docs/deployment.md).
            print("存储中已有医院名单（真实），跳过生成演示数据。", file=sys.stderr)
            return 0
    elif url.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(url.removeprefix("sqlite:///"))
        get_engine.cache_clear()
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)
    else:
        from core.db.migrate import drop_all, upgrade

        engine = get_engine(url)
        drop_all(engine)
        upgrade(engine)
    engine = get_engine(url)
    print("正在生成演示数据（合成，非真实警情）……", file=sys.stderr)
    summary = build_demo(engine, months=args.months, seed=args.seed, scale=args.scale, end=args.end)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


def _import(args: argparse.Namespace) -> int:
    from core.db import get_engine
    from geo.io.ingest import ImportError_, import_file

    try:
        result = import_file(
            args.file, source=args.source, crs=args.crs, sheet=args.sheet, engine=get_engine(args.db),
            username=args.user,
        )
    except ImportError_ as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.summary(), ensure_ascii=False))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` and ``import``."""
    p = sub.add_parser("demo", help="重建演示数据（合成）")
    p.add_argument("--if-missing", action="store_true", help="存储中已有数据时不做任何事")
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--seed", type=int, default=20261101)
    p.add_argument("--scale", type=float, default=1.0, help="数据量倍数（1.0 约每年 6 万条）")
    p.add_argument("--end", default=None, help="截止日期（不含），默认今天")
    p.add_argument("--db", default=None, help="SQLAlchemy URL，默认 HOSPITAL_HOTSPOTS_DB 或内置 SQLite")
    p.set_defaults(func=_demo)

    p = sub.add_parser("import", help="导入 110 警情或投诉记录文件（CSV/XLSX）")
    p.add_argument("file")
    p.add_argument("--source", choices=["110", "complaint"], default=None)
    p.add_argument("--crs", choices=["wgs84", "gcj02", "bd09"], default="wgs84")
    p.add_argument("--sheet", default=None)
    p.add_argument("--db", default=None)
    p.add_argument("--user", default="cli")
    p.set_defaults(func=_import)
