"""Subcommands of planning: ``keylist``, ``plan`` and ``outcomes``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import secrets
from pathlib import Path

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: Export formats of `plan`.
FORMATS = ("json", "pdf", "xlsx", "geojson", "ics")


def _engine():
    # get_engine() without a URL is cached under "no argument"; pass the configured URL.
    from core import settings
    from core.db import get_engine

    return get_engine(settings.DB_URL)


def _month(value: str) -> str:
    if not _MONTH.match(value):
        raise argparse.ArgumentTypeError(f"月份格式应为 YYYY-MM，例如 2026-11，收到 {value!r}")
    return value


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD，收到 {value!r}") from exc


def register(sub: argparse._SubParsersAction) -> None:
    """Add the planning subcommands to the parser."""
    p = sub.add_parser("keylist", help="提出某月重点医院（挂账整治）名单")
    p.add_argument("--month", required=True, type=_month, help="名单月份 YYYY-MM")
    p.add_argument("--size", type=int, default=None, help="建议列入的医院数（默认见 settings.KEYLIST_SIZE）")
    p.add_argument("--json", action="store_true", help="以 JSON 输出")
    p.add_argument("--save", action="store_true", help="将建议保存为该月名单（已有的人工调整保留）")
    p.set_defaults(func=cmd_keylist)

    p = sub.add_parser("plan", help="生成某月集中行动与巡逻方案并导出 PDF/XLSX/JSON/GeoJSON/ICS")
    p.add_argument("--month", required=True, type=_month, help="方案月份 YYYY-MM")
    p.add_argument("--out", required=True, type=Path, help="输出目录")
    p.add_argument("--seed", type=int, default=None, help="随机种子（缺省随机生成并记录）")
    p.add_argument("--block", type=_date, action="append", default=[], help="不安排集中行动的日期，可重复")
    p.add_argument("--unified-day", nargs="?", const="auto", default=None,
                   help="全市统一行动日：不带值由系统选择，或给出日期 YYYY-MM-DD")
    p.add_argument("--personal", action="store_true",
                   help="导出民警真实姓名（默认脱敏）；须同时给出 --user（有权限的用户，需输入密码）和 --reason，并记入审计")
    p.add_argument("--user", default=None, help="以该用户身份导出个人信息（--personal 时必填）")
    p.add_argument("--password-stdin", action="store_true", help="从标准输入第一行读取密码")
    p.add_argument("--reason", default=None, help="导出个人信息的事由（--personal 时必填）")
    p.add_argument("--formats", default=",".join(FORMATS),
                   help=f"导出格式，逗号分隔（默认全部：{','.join(FORMATS)}）")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("outcomes", help="输出某月工作量化统计表")
    p.add_argument("--month", required=True, type=_month, help="统计月份 YYYY-MM")
    p.add_argument("--json", action="store_true", help="以 JSON 输出")
    p.set_defaults(func=cmd_outcomes)


def cmd_keylist(args: argparse.Namespace) -> int:
    """Print the proposed key-hospital list."""
    from core.db import is_demo
    from planning.keylist import propose_keylist, save_keylist

    engine = _engine()
    df = propose_keylist(engine, month=args.month, size=args.size)
    if args.save:
        save_keylist(engine, df, month=args.month)
    demo = is_demo(engine)
    if args.json:
        out = {"month": args.month, "demo": demo, "data_label": "演示数据（合成）" if demo else "",
               "hospitals": json.loads(df.to_json(orient="records", force_ascii=False))}
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    if demo:
        print("【演示数据（合成）】")
    print(f"{args.month} 重点医院名单建议（依据上月警情、投诉、趋势与热点显著性）")
    for r in df.itertuples(index=False):
        flag = r.proposal or "—"
        print(f"{r.rank:>3}  {r.name:<14} 得分{r.score:6.1f}  {flag:<4} {r.reasons}")
    return 0


def _personal_scope(args, engine, month: str):
    """The scope of ``--user`` with personal fields shown, after the reason is recorded (``--personal``)."""
    from core.trust.audit import record
    from core.trust.disclosure import unmask
    from planning.cli.users import scope_from_args

    if not args.user or not (args.reason or "").strip():
        raise ValueError("导出个人信息（--personal）须同时给出 --user 用户名 和 --reason 事由，并将记入审计。")
    signed_in = scope_from_args(args, engine)
    scope = unmask(signed_in, reason=args.reason, engine=engine)
    record("personal_export", username=scope.username, engine=engine,
           detail=f"命令行导出含个人信息的巡防计划 {month}，事由：{args.reason.strip()}")
    return scope


def cmd_plan(args: argparse.Namespace) -> int:
    """Make the month's plan and write every export into ``--out``."""
    if args.personal and (not args.user or not (args.reason or "").strip()):
        raise ValueError("导出个人信息（--personal）须同时给出 --user 用户名 和 --reason 事由，并将记入审计。")
    from core.trust.access import AccessScope
    from planning.export.geojson import export_geojson
    from planning.export.ics import export_ics_all
    from planning.export.pdf import export_pdf
    from planning.export.xlsx import export_xlsx
    from planning.plan import make_plan, save_plan

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = sorted(set(formats) - set(FORMATS))
    if bad:
        raise ValueError(f"未知导出格式 {bad}，可选：{', '.join(FORMATS)}")
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    unified: bool | dt.date = False
    if args.unified_day == "auto":
        unified = True
    elif args.unified_day:
        unified = _date(args.unified_day)
    engine = _engine()
    plan = make_plan(engine, month=args.month, seed=seed, blocked_dates=args.block, unified_day=unified)
    plan_id = save_plan(engine, plan, username="cli")
    scope = AccessScope(role="admin", personal=False, username="cli")
    if args.personal:
        scope = _personal_scope(args, engine, plan.month)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if "json" in formats:
        data = plan.to_json(scope=scope).encode("utf-8")  # compact: C encoder, ~15x faster
        (out / "plan.json").write_bytes(data)
        from core.trust.audit import record

        record("export", username="cli", engine=engine, data=data, detail=f"巡防计划 {plan.month} JSON seed={seed}")
    if "pdf" in formats:
        (out / "plan.pdf").write_bytes(export_pdf(plan, scope=scope))
    if "xlsx" in formats:
        (out / "plan.xlsx").write_bytes(export_xlsx(plan, scope=scope))
    if "geojson" in formats:
        (out / "hotspots.geojson").write_bytes(export_geojson(plan, scope=scope))
    if "ics" in formats:
        (out / "ics").mkdir(exist_ok=True)
        for oid, data in export_ics_all(plan, scope=scope).items():
            (out / "ics" / f"{oid}.ics").write_bytes(data)
    s = plan.summary()
    if plan.demo:
        print("【演示数据（合成）】")
    print(f"方案已生成（编号{plan_id}，随机种子{seed}）：{s['actions']}次集中行动、{s['visits']}次巡查，"
          f"最优性差距{s['gap']:.2%}，求解{s['action_solve_time_s']:.1f}秒。文件已写入 {out}")
    for w in plan.patrol_result.warnings[:5]:
        print(f"提示：{w}")
    return 0


def cmd_outcomes(args: argparse.Namespace) -> int:
    """Print the month's quantified statistics by hospital."""
    from core.db import is_demo
    from planning.outcomes import LABELS, monthly_statistics

    engine = _engine()
    df = monthly_statistics(engine, month=args.month)
    if args.json:
        print(df.to_json(orient="records", force_ascii=False))
        return 0
    if is_demo(engine):
        print("【演示数据（合成）】")
    if df.empty:
        print(f"{args.month} 尚无上报的行动或巡逻成果。")
        return 0
    print(df.drop(columns=["hospital_id"]).rename(columns={"name": "医院", **LABELS}).to_string(index=False))
    return 0
