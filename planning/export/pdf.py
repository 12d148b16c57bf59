"""PDF action plan (集中整治与巡防工作方案): cover with summary, data window and the 审批/签发 block,
summary pages, then exactly one page per hospital (map, action, points, officers) that never spills.

Chinese is set in an embedded TrueType font (WenQuanYi Micro Hei from Debian
``fonts-wqy-microhei``), so it renders on any viewer and its text can be extracted; reportlab's
built-in CID fonts are not embedded and show as boxes without extra viewer packages. The map
of each hospital is drawn by :mod:`planning.export.mapimage`. The words are plain: no solver terms.
"""

from __future__ import annotations

import io

import pandas as pd

from core.safeio import rl_text
from core.trust.access import AccessScope
from planning.export import DEMO_LABEL, POINT_KIND_LABELS, fmt_time, record_export, scoped
from planning.export.fonts import register_font

#: TrueType CJK fonts tried in order (the first that exists is embedded).
_x = rl_text  # every string from the data goes through it before a Paragraph


def _styles(font: str) -> dict:
    from reportlab.lib.styles import ParagraphStyle

    return {
        "title": ParagraphStyle("t", fontName=font, fontSize=22, leading=32, alignment=1),
        "sub": ParagraphStyle("st", fontName=font, fontSize=13, leading=20, alignment=1),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=14, leading=20, spaceAfter=4),
        "body": ParagraphStyle("b", fontName=font, fontSize=10, leading=15, wordWrap="CJK"),
        "small": ParagraphStyle("s", fontName=font, fontSize=8, leading=11, wordWrap="CJK"),
        "cell": ParagraphStyle("c", fontName=font, fontSize=8, leading=10, wordWrap="CJK"),
    }




def _table_style(font: str, size: float = 8.0):
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    return TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), size),
        ("LEADING", (0, 0), (-1, -1), size * 1.25),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ])


def data_window(plan) -> tuple[str, str]:
    """The periods of past incidents the plan was made from (risk forecast, patrol points), in words."""
    from core import settings

    start = pd.Timestamp(f"{plan.month}-01")
    risk0 = (start - pd.Timedelta(days=365)).date()
    pts0 = (start - pd.Timedelta(days=settings.PATROL_LOOKBACK_DAYS)).date()
    end = (start - pd.Timedelta(days=1)).date()
    return (f"{risk0} 至 {end}（近一年警情，推算各时段风险）",
            f"{pts0} 至 {end}（近{settings.PATROL_LOOKBACK_DAYS}天警情，确定巡逻热点）")


def export_pdf(plan, *, scope: AccessScope, approval=None, record: bool = True) -> bytes:
    """The plan as a print-ready PDF (bytes) for ``scope``; recorded in the audit trail.

    Parameters
    ----------
    plan
        A :class:`planning.plan.Plan` (made, or rebuilt from its stored document).
    scope
        Who exports (hospitals filtered, officers named for duty roles).
    approval
        :class:`planning.lifecycle.PlanInfo` of the stored plan, filling the 审批/签发 block;
        None prints an empty block marked 草稿（待审批）.
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Image,
        KeepInFrame,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
    )

    from core import settings
    from planning.checkins import look_for
    from planning.export.mapimage import LEGEND, hospital_map_image

    sp = scoped(plan, scope)
    font = register_font()
    st = _styles(font)
    label = DEMO_LABEL if plan.demo else ""
    s = plan.summary()
    share = s["patrol_covered_risk"] / s["patrol_total_risk"] if s["patrol_total_risk"] else 0.0
    unit_names = dict(zip(plan.units["unit_id"], plan.units["name"], strict=True))
    y, m = plan.month.split("-")
    w_risk, w_pts = data_window(plan)
    page_w, page_h = A4
    frame_w, frame_h = page_w - 30 * mm, page_h - 33 * mm

    # ---------------------------------------------------------------- cover
    story = [Spacer(1, 28 * mm), Paragraph(f"{int(y)}年{int(m)}月", st["sub"]),
             Paragraph("重点医院周边集中整治与巡防工作方案", st["title"]), Spacer(1, 6 * mm)]
    if label:
        story.append(Paragraph(f"【{label}】本方案由合成演示数据生成，数字不代表真实警情。", st["sub"]))
    story += [Spacer(1, 10 * mm), Paragraph("一、方案概要", st["h2"]), Paragraph(
        f"本月对{s['listed_hospitals']}家挂账整治重点医院各开展一次集中整治行动，共需警力{s['action_officers']}人次；"
        f"{s['patrol_hospitals']}家医院的{s['patrol_officers']}名驻院民警按随机巡逻方案每日巡查，全月计划到点巡查"
        f"{s['visits']:,}次。按近一年警情规律推算，巡查安排可覆盖本月预计警情的约{share:.0%}；"
        f"挂号高峰等重点时段，重点点位保证两小时内至少巡查一次。", st["body"]),
        Spacer(1, 3 * mm), Paragraph("二、依据数据", st["h2"]),
        Paragraph(f"风险推算：{w_risk}；巡逻热点：{w_pts}。", st["body"]),
        Paragraph(f"方案编制：{plan.created_at:%Y-%m-%d %H:%M}；复核编号：{plan.seed}（同一编号可重新生成同一方案）。", st["body"]),
        Spacer(1, 10 * mm), Paragraph("三、审批签发", st["h2"])]
    if approval is not None and approval.approved_at is not None:
        signed = [approval.approved_by, f"{approval.approved_at:%Y-%m-%d %H:%M}"]
        state = "已批准"
    else:
        signed = ["", ""]
        state = "草稿（待审批），未经签发不得执行"
    maker = [getattr(approval, "username", "") or "", f"{plan.created_at:%Y-%m-%d}"]
    block = [["环节", "签名", "日期", "意见"], ["拟制", *maker, ""], ["审核", "", "", ""],
             ["签发（批准）", *signed, state]]
    bst = _table_style(font, 10)
    bst.add("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white])
    story += [Table(block, colWidths=[30 * mm, 40 * mm, 40 * mm, 60 * mm], rowHeights=[8 * mm] + [14 * mm] * 3,
                    style=bst)]
    if approval is not None and approval.sha256:
        story.append(Paragraph(f"方案文件校验码（SHA-256）：{approval.sha256}", st["small"]))
    story.append(Paragraph("内部资料　注意保密　巡逻时间和点位不得向无关人员透露", st["small"]))

    # ---------------------------------------------------------------- summary pages
    story += [PageBreak(), Paragraph("集中整治行动安排", st["h2"])]
    rows = [["序号", "医院", "日期", "时段", "警力（人）", "参战单位", "预计覆盖警情（起）"]]
    for i, a in enumerate(sp.actions.sort_values("start").itertuples(index=False), start=1):
        us = sp.forces[sp.forces["hospital_id"] == a.hospital_id]
        rows.append([str(i), Paragraph(_x(plan.hospital_name(a.hospital_id)), st["cell"]), str(a.date),
                     f"{fmt_time(a.start)}-{fmt_time(a.end)}", str(a.officers),
                     Paragraph("、".join(f"{_x(unit_names.get(u.unit_id, u.unit_id))}{u.officers}人"
                                        for u in us.itertuples(index=False)), st["cell"]),
                     f"{a.covered_risk:.1f}"])
    if len(rows) == 1:
        rows.append(["", "（无）", "", "", "", "", ""])
    story.append(Table(rows, colWidths=[10 * mm, 36 * mm, 21 * mm, 22 * mm, 16 * mm, 55 * mm, 20 * mm],
                       style=_table_style(font), repeatRows=1))
    story.append(Paragraph("预计覆盖警情：按近一年同期规律，行动时段内本院周边预计发生的警情起数。", st["small"]))
    if plan.patrol_result.warnings:
        story += [Spacer(1, 3 * mm), Paragraph("排班提示：" + "；".join(_x(w) for w in plan.patrol_result.warnings[:4]), st["small"])]
    vpp = sp.visits.groupby("point_id").size() if len(sp.visits) else pd.Series(dtype=int)
    hids = sorted(set(sp.actions["hospital_id"]) | set(sp.points["hospital_id"]),
                  key=lambda h: (h not in set(sp.actions["hospital_id"]), h))
    vis_n = sp.visits.groupby("hospital_id").size() if len(sp.visits) else pd.Series(dtype=int)
    off_n = sp.roster.groupby("hospital_id")["officer_id"].nunique() if len(sp.roster) else pd.Series(dtype=int)
    act_day = dict(zip(sp.actions["hospital_id"], sp.actions["date"].astype(str), strict=True))
    pts_n = sp.points.groupby("hospital_id").size()
    rows = [["序号", "医院", "所在区", "集中行动", "巡逻点（个）", "驻院民警（人）", "计划巡查（次）", "页码"]]
    by_h = sp.hospitals.set_index("hospital_id")
    # Cover, the action table (about 30 rows a page), this overview (about 46 rows a page), then the hospitals.
    first_page = 1 + max(1, -(-len(sp.actions) // 30)) + max(1, -(-len(hids) // 46))
    for i, hid in enumerate(hids, start=1):
        rows.append([str(i), plan.hospital_name(hid), str(by_h.loc[hid, "district"]), act_day.get(hid, "—"),
                     str(int(pts_n.get(hid, 0))), str(int(off_n.get(hid, 0))), str(int(vis_n.get(hid, 0))),
                     str(first_page + i)])
    story += [PageBreak(), Paragraph("各医院巡防概况", st["h2"]),
              Table(rows, colWidths=[10 * mm, 44 * mm, 22 * mm, 22 * mm, 20 * mm, 22 * mm, 22 * mm, 14 * mm],
                    style=_table_style(font, 7.5 if len(rows) > 36 else 8), repeatRows=1)]

    # ---------------------------------------------------------------- one page per hospital
    pts_by = dict(tuple(sp.points.groupby("hospital_id", sort=False)))
    ros_by = dict(tuple(sp.roster.groupby("hospital_id", sort=False))) if len(sp.roster) else {}
    vis_by = dict(tuple(sp.visits.groupby("hospital_id", sort=False))) if len(sp.visits) else {}
    names = dict(zip(sp.officers["officer_id"], sp.officers["display_name"], strict=True))
    for hid in hids:
        h = by_h.loc[hid]
        pts = pts_by.get(hid, sp.points.iloc[0:0])
        page = [Paragraph(f"{_x(h['name'])}（{_x(h['district'])}）" + (f"　【{label}】" if label else ""), st["h2"])]
        if len(pts):
            page += [Image(io.BytesIO(hospital_map_image(h, pts, vpp)), width=180 * mm, height=82.5 * mm),
                     Paragraph(LEGEND, st["small"])]
        act = sp.actions[sp.actions["hospital_id"] == hid]
        if len(act):
            a = act.iloc[0]
            us = sp.forces[sp.forces["hospital_id"] == hid]
            page.append(Paragraph(
                f"集中整治行动：{a['date']} {fmt_time(a['start'])}-{fmt_time(a['end'])}，警力{a['officers']}人（"
                + "、".join(f"{_x(unit_names.get(u.unit_id, u.unit_id))}{u.officers}人" for u in us.itertuples(index=False))
                + "）。行动期间本院驻院民警参加行动，暂停日常巡逻。", st["body"]))
        else:
            page.append(Paragraph("本月不安排集中整治行动，驻院民警按下列点位日常巡逻。", st["body"]))
        prow = [["巡逻点", "类型", "高峰时段", "计划巡查（次）", "重点查看"]]
        for p in pts.itertuples(index=False):
            prow.append([Paragraph(_x(p.name), st["cell"]), POINT_KIND_LABELS.get(p.kind, p.kind),
                         Paragraph(_x("、".join(p.peak_windows) or "—"), st["cell"]), str(int(vpp.get(p.point_id, 0))),
                         Paragraph(_x(look_for(p.point_id, p.kind)), st["cell"])])
        page += [Spacer(1, 2 * mm), Table(prow, colWidths=[38 * mm, 18 * mm, 28 * mm, 24 * mm, 72 * mm],
                                          style=_table_style(font), repeatRows=1)]
        ros = ros_by.get(hid, sp.roster.iloc[0:0])
        if len(ros):
            vis_h = vis_by.get(hid, sp.visits.iloc[0:0])
            per = vis_h.groupby("officer_id").size() if len(vis_h) else pd.Series(dtype=int)
            orow = [["民警", "在岗天数", "早班（天）", "晚班（天）", "计划巡查（次）"]]
            early = next(iter(settings.PATROL_SHIFTS))
            for oid, g in ros.groupby("officer_id"):
                orow.append([names.get(oid, oid), str(len(g)), str(int((g["shift"] == early).sum())),
                             str(int((g["shift"] != early).sum())), str(int(per.get(oid, 0)))])
            page += [Spacer(1, 2 * mm), Table(orow, colWidths=[40 * mm, 30 * mm, 30 * mm, 30 * mm, 30 * mm],
                                              style=_table_style(font), repeatRows=1),
                     Paragraph("每日巡查时刻按随机方案执行，见本院值勤表和民警个人日历，勿外传。", st["small"])]
        # One page per hospital whatever its size: shrink to the frame rather than spill.
        story += [PageBreak(), KeepInFrame(frame_w, frame_h - 2 * mm, page, mode="shrink")]

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawString(15 * mm, 10 * mm, f"{plan.month} 巡防工作方案  第{doc.page}页  {label}  内部资料 注意保密")
        canvas.restoreState()

    from reportlab import rl_config

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"{plan.month} 巡防工作方案", author="医院周边警情研判与巡防排班")
    a85, rl_config.useA85 = rl_config.useA85, 0
    try:
        doc.build(story, onFirstPage=footer, onLaterPages=footer)
    finally:
        rl_config.useA85 = a85
    data = buf.getvalue()
    if record:
        record_export(plan, scope, "PDF", data)
    return data
