"""One-page duty sheet (值勤表) of one hospital over a range of days, to post in the police room.

Rows are the visits (date, time, point, officer); the type shrinks with the number of rows so the
sheet always fits one A4 page. A stationed officer's own sheet lists only their visits.
"""

from __future__ import annotations

import datetime as dt
import io

from core.safeio import rl_text
from core.trust.access import AccessScope
from planning.export import DEMO_LABEL, fmt_time, record_export, scoped


def export_duty_sheet(plan, *, scope: AccessScope, hospital_id: str, start: dt.date, end: dt.date,
                      officer_id: str | None = None) -> bytes:
    """The 值勤表 of ``hospital_id`` for ``start``..``end`` (inclusive) as a one-page PDF.

    Raises
    ------
    PermissionError
        When ``scope`` may not see the hospital (or, for an officer, another officer's visits).
    ValueError
        When the range is empty or reversed.
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepInFrame, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from planning.export.fonts import register_font

    if end < start:
        raise ValueError(f"结束日期 {end} 早于开始日期 {start}。")
    if not scope.allows_hospital(hospital_id):
        raise PermissionError(f"无权导出医院 {hospital_id} 的值勤表。")
    sp = scoped(plan, scope)
    officer_id = officer_id or (scope.officer_id if scope.role == "officer" else None)
    v = sp.visits[(sp.visits["hospital_id"] == hospital_id) & (sp.visits["date"] >= start)
                  & (sp.visits["date"] <= end)]
    if officer_id:
        v = v[v["officer_id"] == officer_id]
    v = v.sort_values(["start", "officer_id"])
    names = dict(zip(sp.officers["officer_id"], sp.officers["display_name"], strict=True))
    pname = dict(zip(sp.points["point_id"], sp.points["name"], strict=True))
    font = register_font()
    days = sorted(set(v["date"])) or [start]

    def day_table(d, width):
        sub = v[v["date"] == d]
        rows = [[f"{d:%m-%d}", "巡逻点", "民警", "签字"]]
        rows += [[f"{fmt_time(r.start)}-{fmt_time(r.end)}", pname.get(r.point_id, r.point_id)[:10],
                  names.get(r.officer_id, r.officer_id), ""] for r in sub.itertuples(index=False)]
        if len(rows) == 1:
            rows.append(["", "无巡查任务", "", ""])
        fs = 8.5 if len(rows) <= 60 else max(5.0, 8.5 * 60 / len(rows))
        style = TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), fs),
            ("LEADING", (0, 0), (-1, -1), fs * 1.2), ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
            ("TOPPADDING", (0, 0), (-1, -1), 0.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
        ])
        return Table(rows, colWidths=[width * 0.27, width * 0.36, width * 0.2, width * 0.17], style=style,
                     repeatRows=1), len(rows)

    # Up to three days side by side on a landscape page; longer ranges shrink to one page.
    landscape_page = len(days) > 1
    n_rows = len(v)
    hname = plan.hospital_name(hospital_id)
    who = f" {names.get(officer_id, officer_id)}" if officer_id else ""
    title = ParagraphStyle("t", fontName=font, fontSize=15, leading=20, alignment=1)
    body = ParagraphStyle("b", fontName=font, fontSize=8.5, leading=12)
    label = DEMO_LABEL if plan.demo else ""
    from reportlab.lib.pagesizes import landscape

    page = landscape(A4) if landscape_page else A4
    avail = page[0] - 28 * mm
    per_row = min(3, len(days))
    width = avail / per_row - 3 * mm
    grid = []
    for k in range(0, len(days), per_row):
        grid.append([day_table(d, width)[0] for d in days[k:k + per_row]])
    story = [Paragraph(rl_text(f"{hname}驻院警务室值勤表{who}"), title),
             Paragraph(f"{start} 至 {end}　共{n_rows}次巡查　每次到点停留12–16分钟，巡查后在系统“今日任务”签到"
                       + (f"　【{label}】" if label else ""), body), Spacer(1, 2 * mm)]
    for row in grid:
        story.append(Table([row + [""] * (per_row - len(row))], colWidths=[avail / per_row] * per_row,
                           style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")])))
    story += [Spacer(1, 2 * mm), Paragraph("内部资料，勿张贴于公众可见处。", body)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=page, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=f"值勤表 {hname}")
    doc.build([KeepInFrame(doc.width, doc.height, story, mode="shrink")])
    data = buf.getvalue()
    record_export(plan, scope, f"值勤表 {hospital_id} {start}~{end}{who}", data)
    return data
