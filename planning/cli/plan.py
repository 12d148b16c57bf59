"""Subcommands of planning: ``keylist``, ``plan`` (stores a draft), ``plans``, ``approve``, ``edit``,
``checkin``, ``record`` (action results), ``outcomes`` and ``report`` (dosage, 工作量化统计表, 月度通报).

Approving, editing and recording act as a signed-in user (``--user`` with the password from a prompt or
``--password-stdin``): the library checks the role (commander, or the stationed officer for check-ins).
"""

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

    from planning.cli.users import add_user_options

    p = sub.add_parser("plans", help="列出已存档的方案及其状态（草稿、已批准、执行中、已结束）")
    p.add_argument("--month", type=_month, default=None, help="只列该月 YYYY-MM")
    p.set_defaults(func=cmd_plans)

    p = sub.add_parser("approve", help="指挥员批准方案草稿（记入审计，含文件哈希）")
    p.add_argument("--plan", required=True, type=int, help="方案编号")
    p.add_argument("--file", type=Path, action="append", default=[], help="随方案下发的文件（记录其 SHA-256），可重复")
    p.add_argument("--note", default="", help="批示")
    add_user_options(p)
    p.set_defaults(func=cmd_approve)

    p = sub.add_parser("edit", help="调整方案并重新排班（生成新草稿，记录调整人、时间、原因和代价）")
    p.add_argument("--plan", required=True, type=int, help="方案编号")
    p.add_argument("--why", required=True, help="调整原因")
    p.add_argument("--lock", action="append", default=[], metavar="HOSPITAL", help="锁定某医院的集中行动")
    p.add_argument("--move", action="append", default=[], metavar="HOSPITAL=YYYY-MM-DDTHH:MM[/小时]",
                   help="调整某医院集中行动的开始时间（可带时长）")
    p.add_argument("--forces", action="append", default=[], metavar="HOSPITAL:UNIT=N[,UNIT=N]",
                   help="指定某医院集中行动各单位警力")
    p.add_argument("--absent", action="append", default=[], metavar="OFFICER=YYYY-MM-DD[,YYYY-MM-DD]",
                   help="民警请假日期")
    p.add_argument("--suppress", action="append", default=[], metavar="POINT", help="停用巡逻点（点位编号）")
    p.add_argument("--add-point", action="append", default=[], metavar="HOSPITAL:名称:经度:纬度",
                   help="增加巡逻点（WGS-84 经纬度）")
    p.add_argument("--out", type=Path, default=None, help="另存新方案 plan.json 的目录")
    add_user_options(p)
    p.set_defaults(func=cmd_edit)

    p = sub.add_parser("checkin", help="驻院民警巡查签到（完成或未完成及原因）")
    p.add_argument("--plan", required=True, type=int, help="已批准的方案编号")
    p.add_argument("--visit", required=True, help="巡查任务编号（如 V000123）")
    p.add_argument("--status", required=True, choices=["done", "missed"], help="done=已完成，missed=未完成")
    p.add_argument("--reason", default="", help="未完成原因：incident/other_duty/leave/action/other")
    p.add_argument("--start", default=None, help="实际到达时间 YYYY-MM-DDTHH:MM")
    p.add_argument("--findings", default="", help="巡查情况")
    for k, label in (("persons-checked", "盘查人数"), ("scalpers-caught", "抓获号贩子"), ("touts-caught", "抓获医托"),
                     ("warned-away", "劝离人数"), ("cases-handed-over", "移交案件")):
        p.add_argument(f"--{k}", type=int, default=0, help=label)
    add_user_options(p)
    p.set_defaults(func=cmd_checkin)

    p = sub.add_parser("record", help="指挥员登记集中行动成果")
    p.add_argument("--hospital", required=True, help="医院编号")
    p.add_argument("--date", required=True, type=_date, help="行动日期 YYYY-MM-DD")
    p.add_argument("--units", default="", help="参战单位及警力 UNIT=N[,UNIT=N]")
    p.add_argument("--officers", type=int, default=None, help="总警力（默认为各单位之和）")
    p.add_argument("--note", default="", help="备注")
    for k, label in (("persons-checked", "盘查人数"), ("scalpers-caught", "抓获号贩子"), ("touts-caught", "抓获医托"),
                     ("warned-away", "劝离人数"), ("cases-handed-over", "移交案件")):
        p.add_argument(f"--{k}", type=int, default=0, help=label)
    add_user_options(p)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("report", help="报表：巡防完成情况、工作量化统计表（XLSX/PDF）、月度通报（PDF）")
    p.add_argument("kind", choices=["dosage", "workload", "bulletin"], help="dosage=巡防完成情况，"
                   "workload=工作量化统计表，bulletin=月度通报")
    p.add_argument("--period", required=True, help="月份 YYYY-MM（workload 也可为季度 YYYYQn）")
    p.add_argument("--out", type=Path, default=None, help="输出文件（.xlsx 或 .pdf；缺省只在屏幕显示）")
    p.add_argument("--unit", default="", help="填报单位（统计表表头）")
    p.set_defaults(func=cmd_report)

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
    from planning.lifecycle import save_draft
    from planning.plan import make_plan

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
    plan_id = save_draft(engine, plan, username="cli")
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
    share = s["patrol_covered_risk"] / s["patrol_total_risk"] if s["patrol_total_risk"] else 0.0
    print(f"方案草稿已生成（编号{plan_id}，随机种子{seed}）：{s['actions']}次集中行动、{s['visits']}次巡查，"
          f"巡查覆盖预计警情的{share:.0%}。文件已写入 {out}")
    print(f"草稿须经指挥员批准后生效：python -m planning approve --plan {plan_id} --user 指挥员账号")
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


def _user_engine(args: argparse.Namespace):
    from core import settings
    from core.db import get_engine

    return get_engine(getattr(args, "db", None) or settings.DB_URL)


def cmd_plans(args: argparse.Namespace) -> int:
    """List stored plans with their state."""
    from planning.lifecycle import list_plans

    plans = list_plans(_engine(), month=args.month)
    if not plans:
        print("尚无存档方案。")
        return 0
    for p in plans:
        who = f"，{p.approved_by} 于 {p.approved_at:%Y-%m-%d %H:%M} 批准" if p.approved_at else ""
        parent = f"，由方案{p.parent_id}调整" if p.parent_id else ""
        print(f"方案{p.plan_id:>4}  {p.month}  {p.state_label}{who}{parent}（{p.created_at:%Y-%m-%d %H:%M} 由 {p.username} 生成）")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    """Approve a draft as the signed-in commander."""
    from planning.cli.users import scope_from_args
    from planning.lifecycle import approve_plan

    engine = _user_engine(args)
    scope = scope_from_args(args, engine)
    files = {f.name: f.read_bytes() for f in args.file}
    info = approve_plan(engine, args.plan, scope=scope, files=files, note=args.note)
    print(f"方案{info.plan_id}（{info.month}）已由 {info.approved_by} 批准，状态：{info.state_label}。"
          f"plan.json SHA-256：{info.sha256}")
    return 0


def _split_pairs(text: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (x.strip() for x in text.split(","))):
        if "=" not in part:
            raise ValueError(f"应为 键=值，收到 {part!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def parse_edits(args: argparse.Namespace) -> list:
    """The :class:`planning.replan.Edit` list of the ``edit`` command's options."""
    import pandas as pd

    from core import settings
    from planning.replan import Edit

    edits = [Edit("lock", hospital_id=h, note=args.why) for h in args.lock]
    for m in args.move:
        h, _, when = m.partition("=")
        when, _, hours = when.partition("/")
        try:
            start = pd.Timestamp(when).tz_localize(settings.TIMEZONE)
        except ValueError as exc:
            raise ValueError(f"--move 时间格式应为 YYYY-MM-DDTHH:MM，收到 {when!r}") from exc
        edits.append(Edit("move", hospital_id=h, start=start, hours=int(hours) if hours else None, note=args.why))
    for f in args.forces:
        h, _, rest = f.partition(":")
        edits.append(Edit("forces", hospital_id=h, forces={k: int(v) for k, v in _split_pairs(rest).items()},
                          note=args.why))
    for a in args.absent:
        o, _, ds = a.partition("=")
        edits.append(Edit("absent", officer_id=o, dates=tuple(_date(d) for d in ds.split(",") if d), note=args.why))
    edits += [Edit("point_suppress", point_id=p, note=args.why) for p in args.suppress]
    for a in args.add_point:
        parts = a.split(":")
        if len(parts) != 4:
            raise ValueError(f"--add-point 应为 医院:名称:经度:纬度，收到 {a!r}")
        edits.append(Edit("point_add", hospital_id=parts[0], name=parts[1], lon=float(parts[2]), lat=float(parts[3]),
                          note=args.why))
    if not edits:
        raise ValueError("没有指定任何调整（--lock/--move/--forces/--absent/--suppress/--add-point）。")
    return edits


def cmd_edit(args: argparse.Namespace) -> int:
    """Edit a stored plan through ``replan`` and store the result as a new draft."""
    from core.trust.access import require
    from planning.cli.users import scope_from_args
    from planning.lifecycle import APPROVER_ROLES, rebuild_plan
    from planning.replan import replan, save_replan

    engine = _user_engine(args)
    scope = scope_from_args(args, engine)
    require(scope, roles=APPROVER_ROLES)
    edits = parse_edits(args)
    plan = rebuild_plan(engine, args.plan)
    res = replan(plan, edits, engine=engine)
    new_id = save_replan(engine, args.plan, res, username=scope.username, why=args.why)
    print(f"已生成调整后的方案草稿{new_id}（原方案{args.plan}）。{res.message}")
    for w in res.warnings:
        print(f"警告：{w}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "plan.json").write_text(res.plan.to_json(), encoding="utf-8")
    return 0


def _counts(args: argparse.Namespace) -> dict[str, int]:
    return {k: getattr(args, k) for k in ("persons_checked", "scalpers_caught", "touts_caught", "warned_away",
                                          "cases_handed_over")}


def cmd_checkin(args: argparse.Namespace) -> int:
    """Check a visit in as the signed-in officer."""
    import pandas as pd

    from planning.checkins import STATUS_LABELS, record_checkin
    from planning.cli.users import scope_from_args

    engine = _user_engine(args)
    scope = scope_from_args(args, engine)
    start = pd.Timestamp(args.start).to_pydatetime() if args.start else None
    cid = record_checkin(engine, scope=scope, plan_id=args.plan, visit_id=args.visit, status=args.status,
                         reason=args.reason, actual_start=start, findings=args.findings, **_counts(args))
    print(f"已签到（记录{cid}）：{args.visit} {STATUS_LABELS[args.status]}。")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    """Record an action's results as the signed-in commander."""
    from planning.cli.users import scope_from_args
    from planning.outcomes import record_action_result

    engine = _user_engine(args)
    scope = scope_from_args(args, engine)
    units = {k: int(v) for k, v in _split_pairs(args.units).items()}
    rid = record_action_result(engine, scope=scope, hospital_id=args.hospital, date=args.date, units=units,
                               officers=args.officers, note=args.note, **_counts(args))
    print(f"已登记集中行动成果（记录{rid}）：{args.hospital} {args.date}。")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Print or write a report."""
    from core.trust.audit import record
    from planning import reports

    engine = _engine()
    if args.kind == "dosage":
        d = reports.dosage(engine, month=args.period)
        t = d.totals
        print(f"{args.period} 巡防完成情况（计划来源：{d.source}）：到期计划{t['planned']}次，完成{t['done']}次，"
              f"未完成{t['missed']}次，未上报{t['unreported']}次，完成率{reports._pct(t['compliance'])}；"
              f"高峰复巡达标{t['peak_kept']}/{t['peak_windows']}。")
        shown = d.by_hospital[d.by_hospital["planned"] > 0]
        for r in shown.itertuples(index=False):
            print(f"  {r.name:<14} 计划{r.planned:>5} 完成{r.done:>5} 未完成{r.missed:>4} 完成率{reports._pct(r.compliance)}")
        return 0
    if args.kind == "workload":
        if args.out is None:
            df = reports.workload_table(engine, period=args.period)
            labels = dict(reports.WORKLOAD_COLUMNS)
            print(df.drop(columns=["hospital_id"]).rename(columns={"name": "医院", **labels}).to_string(index=False))
            return 0
        data = (reports.workload_pdf(engine, period=args.period, unit=args.unit) if args.out.suffix.lower() == ".pdf"
                else reports.workload_xlsx(engine, period=args.period, unit=args.unit))
        what = f"工作量化统计表 {args.period}"
    else:
        b = reports.monthly_bulletin(engine, month=args.period)
        if args.out is None:
            for head, paras in reports.bulletin_text(b):
                print(head)
                for p in paras:
                    print(f"  {p}")
            return 0
        data = reports.bulletin_pdf(b)
        what = f"月度通报 {args.period}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    record("export", username="cli", engine=engine, data=data, detail=f"{what} {args.out.name}")
    print(f"已写入 {args.out}")
    return 0
