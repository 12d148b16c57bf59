"""Data subcommands: ``demo`` (rebuild the synthetic demo store) and ``import`` (one file).

``demo`` only ever replaces a demo store (or fills an empty one). On a real store it exits with status 2 and
changes nothing, unless ``--force-wipe`` is given and the operator types :data:`WIPE_CONFIRMATION`; then the wipe
is recorded in the store's audit trail, the whole trail (with its chain head) is copied to
``VAR_DIR/wiped/audit-before-wipe-*.csv``, and the new trail's first entry names that file and its SHA-256.
``import`` into a demo store is refused (:mod:`core.trust.storekind`).
"""

from __future__ import annotations

import argparse
import json
import sys

#: What the operator must type to confirm ``demo --force-wipe`` on a store that is not a demo store.
WIPE_CONFIRMATION = "清空真实数据"


def _store_counts(engine) -> dict[str, int]:
    from sqlalchemy import func, select

    from core.db.schema import AuditEntry, Incident, User

    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in (("incidents", Incident), ("users", User), ("audit", AuditEntry))
        }


def _archive_trail(engine, url: str) -> tuple[str, dict]:
    """Copy the whole audit trail (and its chain head) into a file that survives the wipe."""
    import datetime as dt
    import re

    from core import settings
    from core.trust.access import SYSTEM
    from core.trust.audit import export_with_head

    data, head = export_with_head(engine, scope=SYSTEM)
    folder = settings.VAR_DIR / "wiped"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^\w.-]+", "_", url.rsplit("/", 1)[-1])[:60] or "store"
    path = folder / f"audit-before-wipe-{name}-{stamp}.csv"
    path.write_bytes(data)
    path.with_name(path.name + ".head.json").write_text(json.dumps(head, ensure_ascii=False, indent=2), "utf-8")
    return str(path), head


def _confirm_wipe(kind_label: str, counts: dict[str, int], url: str) -> bool:
    print(
        f"警告：{url} 是{kind_label}存储（警情 {counts['incidents']} 条，用户 {counts['users']} 个，"
        f"审计记录 {counts['audit']} 条）。继续将永久删除这些数据并改为演示数据。",
        file=sys.stderr,
    )
    print(f"如确认清空，请输入“{WIPE_CONFIRMATION}”后回车：", file=sys.stderr, end="", flush=True)
    line = sys.stdin.readline()
    return line.strip() == WIPE_CONFIRMATION


def _wipe(url: str) -> None:
    from core.db import get_engine
    from core.db.engine import forget_engines

    if url.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(url.removeprefix("sqlite:///"))
        get_engine(url).dispose()
        forget_engines()
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)
    else:
        from core.db.migrate import drop_all, upgrade

        engine = get_engine(url)
        drop_all(engine)
        upgrade(engine)


def _demo(args: argparse.Namespace) -> int:
    import getpass

    from core import settings
    from core.db import get_engine, incident_count
    from core.trust.audit import record
    from core.trust.storekind import KINDS, store_kind
    from geo.io.demo import build_demo

    url = args.db or settings.DB_URL
    engine = get_engine(url)
    kind = store_kind(engine)
    if args.if_missing and (kind == "real" or incident_count(engine) > 0):
        print(f"存储中已有数据（{KINDS.get(kind or 'real')}），跳过生成演示数据。", file=sys.stderr)
        return 0
    wiped = None
    if kind == "real":
        counts = _store_counts(engine)
        if not args.force_wipe:
            print(
                f"错误: {url} 保存的是真实数据（警情 {counts['incidents']} 条，用户 {counts['users']} 个），"
                "演示数据不会覆盖它，未做任何改动。如确需清空，请加 --force-wipe 并按提示确认。",
                file=sys.stderr,
            )
            return 2
        if not _confirm_wipe(KINDS[kind], counts, url):
            print("错误: 确认文字不符，已取消，未做任何改动。", file=sys.stderr)
            return 2
        operator = getpass.getuser()
        # Recorded in the old trail first, then the whole trail is kept in a file outside the store.
        record(
            "store_wipe", username=f"cli:{operator}",
            detail=f"确认清空真实存储以生成演示数据（警情 {counts['incidents']} 条，用户 {counts['users']} 个，"
                   f"审计记录 {counts['audit']} 条）",
            engine=engine,
        )
        wiped = (operator, counts, *_archive_trail(engine, url))
    if kind is not None or incident_count(engine) > 0:
        _wipe(url)
    engine = get_engine(url)
    if wiped is not None:
        operator, counts, path, head = wiped
        record(
            "store_wiped", username=f"cli:{operator}",
            detail=f"本存储由清空真实存储后重建；清空前的审计记录 {head['entries']} 条已存档于 {path}"
                   f"（SHA-256 {head['sha256']}，链头 {head['head_hash']}）",
            engine=engine,
        )
        print(f"已清空。清空前的审计记录已存档：{path}", file=sys.stderr)
    print("正在生成演示数据（合成，非真实警情）……", file=sys.stderr)
    summary = build_demo(engine, months=args.months, seed=args.seed, scale=args.scale, end=args.end)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


def _import(args: argparse.Namespace) -> int:
    from core.db import get_engine
    from core.trust.storekind import StoreKindError
    from geo.io.ingest import ImportError_, import_file

    try:
        result = import_file(
            args.file, source=args.source, crs=args.crs, sheet=args.sheet, engine=get_engine(args.db),
            username=args.user,
        )
    except (ImportError_, StoreKindError) as exc:
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
    p.add_argument(
        "--force-wipe", action="store_true",
        help=f"允许清空真实数据存储（需在提示时输入“{WIPE_CONFIRMATION}”；清空前记入审计并存档审计记录）",
    )
    p.set_defaults(func=_demo)

    p = sub.add_parser("import", help="导入 110 警情或投诉记录文件（CSV/XLSX）")
    p.add_argument("file")
    p.add_argument("--source", choices=["110", "complaint"], default=None)
    p.add_argument("--crs", choices=["wgs84", "gcj02", "bd09"], default="wgs84")
    p.add_argument("--sheet", default=None)
    p.add_argument("--db", default=None)
    p.add_argument("--user", default="cli")
    p.set_defaults(func=_import)
