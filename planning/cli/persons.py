"""Target persons subcommands (重点人员): ``persons refresh|import-sightings|list|confirm|split|handover|handovers``.

Every command reads and writes through :mod:`geo.io.persons` and :mod:`core.db.persons` with the caller's scope
(``--user`` signs in; without it the operator's SYSTEM scope). Lists print masked identity fields only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from planning.cli.users import _engine, add_user_options, scope_from_args


def _refresh(args: argparse.Namespace) -> int:
    from core.trust.access import SYSTEM, require
    from geo.io.persons import refresh_incident_mentions, run_resolution

    engine = _engine(args)
    scope = scope_from_args(args, engine)
    if scope != SYSTEM:
        require(scope, roles=("commander",))
    n = refresh_incident_mentions(engine)
    res = run_resolution(engine)
    print(f"已从警情中提取 {n} 条人员记录；研判得到 {len(res.persons)} 人，待人工核实 {len(res.reviews)} 对。")
    return 0


def _import(args: argparse.Namespace) -> int:
    from core.trust.access import SYSTEM, require
    from geo.io.persons import import_sightings

    engine = _engine(args)
    scope = scope_from_args(args, engine)
    if scope != SYSTEM:
        require(scope, roles=("commander", "admin"))
    res = import_sightings(args.file, engine=engine, username=scope.username, min_score=args.min_score)
    print(res.summary())
    for r in res.rejections[:20]:
        print(f"  第 {r['row']} 行：{r['reason']}")
    if len(res.rejections) > 20:
        print(f"  …… 另有 {len(res.rejections) - 20} 行被拒收")
    return 0


def _list(args: argparse.Namespace) -> int:
    from core.db.persons import load_persons, person_counts

    engine = _engine(args)
    scope = scope_from_args(args, engine)
    if scope.aggregates_only and scope.username != "system":
        for r in person_counts(engine, scope=scope).itertuples(index=False):
            print(f"{r.hospital_id}\t重点人员 {r.n_persons} 人\t出现 {r.n_appearances} 次")
        return 0
    df = load_persons(engine, scope=scope)
    for r in df.head(args.limit).itertuples(index=False):
        print(f"{r.person_id}\t{r.name_masked}\t{r.id_masked}\t{r.phone_masked}\t{r.main_hospital}\t"
              f"{r.peak_window}\t出现 {r.n_mentions} 次")
    print(f"共 {len(df)} 人（已脱敏）。")
    return 0


def _decide(kind: str):
    def run(args: argparse.Namespace) -> int:
        from geo.io.persons import record_decision

        engine = _engine(args)
        scope = scope_from_args(args, engine)
        did = record_decision(kind, args.mention_a, args.mention_b, reason=args.reason, scope=scope, engine=engine)
        what = "确认为同一人" if kind == "confirm" else "拆分为不同人"
        print(f"已记录研判决定 {did}：{args.mention_a} 与 {args.mention_b} {what}（已审计）。")
        return 0

    return run


def _handover(args: argparse.Namespace) -> int:
    from core.db.persons import handover_file

    engine = _engine(args)
    scope = scope_from_args(args, engine)
    data, hid = handover_file(args.template, recipient=args.to, scope=scope, engine=engine,
                              hospital_id=args.hospital)
    out = Path(args.out or f"handover_{hid}.csv")
    out.write_bytes(data)
    print(f"已生成移交名单 {out}（移交记录 {hid}，接收方 {args.to}，已审计）。")
    return 0


def _handovers(args: argparse.Namespace) -> int:
    from core.db.persons import handover_body, load_handovers

    engine = _engine(args)
    scope = scope_from_args(args, engine)
    if args.get is not None:
        data = handover_body(args.get, scope=scope, engine=engine)
        out = Path(args.out or f"handover_{args.get}.csv")
        out.write_bytes(data)
        print(f"已保存移交文件 {out}。")
        return 0
    for r in load_handovers(engine, scope=scope).itertuples(index=False):
        print(f"{r.id}\t{r.at}\t{r.template}\t接收方 {r.recipient}\t{r.n_persons} 人\tsha256={r.sha256[:12]}…")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``persons`` subcommands."""
    persons = sub.add_parser("persons", help="重点人员（提取、布控告警导入、研判确认/拆分、移交名单）")
    psub = persons.add_subparsers(dest="persons_command", required=True)
    p = psub.add_parser("refresh", help="从警情中重新提取人员并研判")
    add_user_options(p)
    p.set_defaults(func=_refresh)
    p = psub.add_parser("import-sightings", help="导入布控告警文件（CSV/XLSX）")
    p.add_argument("file")
    p.add_argument("--min-score", type=float, default=None, help="相似度下限（默认取配置）")
    add_user_options(p)
    p.set_defaults(func=_import)
    p = psub.add_parser("list", help="列出重点人员（脱敏）；联络员只看到各医院人数")
    p.add_argument("--limit", type=int, default=50)
    add_user_options(p)
    p.set_defaults(func=_list)
    for kind, help_ in (("confirm", "确认两条记录为同一人"), ("split", "确认两条记录为不同人（拆分）")):
        p = psub.add_parser(kind, help=help_)
        p.add_argument("mention_a")
        p.add_argument("mention_b")
        p.add_argument("--reason", required=True, help="理由（写入审计记录）")
        add_user_options(p)
        p.set_defaults(func=_decide(kind))
    p = psub.add_parser("handover", help="按约定模板生成移交名单（布控名单/黑名单）")
    p.add_argument("--template", required=True, help="模板名（data/handover_template.yaml）")
    p.add_argument("--to", required=True, help="接收方（联络员用户名或单位）")
    p.add_argument("--hospital", default=None, help="只移交主要活动于该医院的人员")
    p.add_argument("--out", default=None)
    add_user_options(p)
    p.set_defaults(func=_handover)
    p = psub.add_parser("handovers", help="移交记录；--get ID 下载发给本人的移交文件")
    p.add_argument("--get", type=int, default=None)
    p.add_argument("--out", default=None)
    add_user_options(p)
    p.set_defaults(func=_handovers)
