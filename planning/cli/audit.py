"""Audit trail subcommands: ``audit list``, ``audit export --out FILE.csv`` and ``audit verify``.

``audit verify`` recomputes the hash chain of the trail (:func:`core.trust.audit.verify_chain`) and prints the
first broken link (exit status 1), or the number of entries and the chain head (exit status 0). ``--head HASH``
checks that a head exported earlier is still part of the chain (entries removed from the end, or the whole chain
rebuilt, are found that way). ``audit export`` writes the CSV and, beside it, ``FILE.head.json`` with the chain
head at the time of the export.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.trust.access import SYSTEM
from planning.cli.users import _add_db, _engine, add_user_options, scope_from_args


def _audit_list(args: argparse.Namespace) -> int:
    from core.trust.audit import list_entries

    df = list_entries(_engine(args), scope=SYSTEM, action=args.action, username=args.username, limit=args.limit)
    for row in df.itertuples(index=False):
        digest = f" sha256={row.sha256[:12]}…" if row.sha256 else ""
        print(f"{row.at}\t{row.username}\t{row.action_label}\t{row.detail}{digest}")
    return 0


def _audit_export(args: argparse.Namespace) -> int:
    from core.trust.audit import export_with_head

    scope = SYSTEM if not args.user else scope_from_args(args)
    data, head = export_with_head(_engine(args), scope=scope, action=args.action, username=args.username)
    out = Path(args.out)
    out.write_bytes(data)
    side = out.with_name(out.name + ".head.json")
    side.write_text(json.dumps(head, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"已导出审计记录到 {out}（{head['entries']} 条）。")
    print(f"导出时审计链头：序号 {head['head_id']} 哈希 {head['head_hash']}（已写入 {side}，请另行留存）")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from core.trust.audit import verify_chain

    expected = args.head
    if args.head_file:
        expected = json.loads(Path(args.head_file).read_text(encoding="utf-8"))["head_hash"]
    report = verify_chain(_engine(args), expected_head=expected)
    if report.ok:
        print(f"审计链完整：共 {report.entries} 条，链头 序号 {report.head_id} 哈希 {report.head_hash}")
        return 0
    print(f"审计链已被破坏：{report.problem}")
    if report.broken_id is not None:
        print(f"首个断点：第 {report.broken_id} 号记录（此前 {max(report.entries - 1, 0)} 条完好）")
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``audit`` subcommands."""
    audit = sub.add_parser("audit", help="审计记录（查看、导出、校验）")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    p = asub.add_parser("list", help="查看最近的审计记录")
    p.add_argument("--action", default=None)
    p.add_argument("--username", default=None)
    p.add_argument("--limit", type=int, default=50)
    _add_db(p)
    p.set_defaults(func=_audit_list)

    p = asub.add_parser("export", help="导出审计记录为 CSV（另写链头文件 FILE.head.json）")
    p.add_argument("--out", required=True, help="输出 CSV 文件")
    p.add_argument("--action", default=None)
    p.add_argument("--username", default=None)
    add_user_options(p)
    p.set_defaults(func=_audit_export)

    p = asub.add_parser("verify", help="校验审计哈希链，报告第一个断点")
    p.add_argument("--head", default=None, help="先前导出的链头哈希：校验其仍在链中")
    p.add_argument("--head-file", default=None, help="先前导出时写出的 FILE.head.json")
    _add_db(p)
    p.set_defaults(func=_audit_verify)
