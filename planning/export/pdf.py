"""PDF action plan (集中整治与巡防工作方案): title page, summary table, one page per hospital.

Chinese is set in an embedded TrueType font (WenQuanYi Micro Hei from Debian
``fonts-wqy-microhei``), so it renders on any viewer and its text can be extracted; reportlab's
built-in CID fonts are not embedded and show as boxes without extra viewer packages. The map
of each hospital is a matplotlib image of its hotspots and patrol points.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape as _xml_escape

import pandas as pd

from core.trust.access import AccessScope
from planning.export import DEMO_LABEL, POINT_KIND_LABELS, fmt_time, record_export, scoped

#: TrueType CJK fonts tried in order (the first that exists is embedded).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
FONT_NAME = "WQYMicroHei"


def font_path() -> str:
    """Path of the embedded CJK font; raises with an installation hint when none is present."""
    for p in FONT_CANDIDATES:
        if Path(p).exists():
            return p
    raise RuntimeError("未找到中文 TrueType 字体，请安装 Debian 软件包 fonts-wqy-microhei。")


@lru_cache(maxsize=1)
def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT_NAME, font_path(), subfontIndex=0))
    return FONT_NAME


@lru_cache(maxsize=1)
def _font_prop():
    """matplotlib font properties of the CJK font (added to the font manager once per process)."""
    from matplotlib import font_manager

    fp = font_path()
    font_manager.fontManager.addfont(fp)
    return font_manager.FontProperties(fname=fp)


def _map_png(hospital: pd.Series, points: pd.DataFrame, visits_per_point: pd.Series) -> bytes:
    """A small map of one hospital: its point, hotspots (red) and fixed patrol points (blue)."""
    import math

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    prop = _font_prop()
    fig = Figure(figsize=(5.2, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter([hospital["lon"]], [hospital["lat"]], marker="P", s=160, c="black", zorder=3)
    ax.annotate(str(hospital["name"]), (hospital["lon"], hospital["lat"]), fontproperties=prop, fontsize=8,
                xytext=(6, -12), textcoords="offset points")
    # One collection for all points (an artist per point cost a draw pass each).
    ax.scatter(points["lon"].to_numpy(float), points["lat"].to_numpy(float),
               s=40 + 400 * points["share"].to_numpy(float),
               c=["#d62728" if k == "hotspot" else "#1f77b4" for k in points["kind"]], alpha=0.7, edgecolors="k",
               zorder=2)
    for p in points.itertuples(index=False):
        n = int(visits_per_point.get(p.point_id, 0))
        ax.annotate(f"{p.name}（{n}次）", (p.lon, p.lat), fontproperties=prop, fontsize=8, xytext=(5, 5),
                    textcoords="offset points")
    lat0 = float(hospital["lat"])
    aspect = 1 / math.cos(math.radians(lat0))
    left, right, bottom, top = 0.16, 0.94, 0.13, 0.92
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top)
    pad = 0.0012
    lons = [hospital["lon"], *points["lon"]]
    lats = [hospital["lat"], *points["lat"]]
    x0, x1, y0, y1 = min(lons) - pad, max(lons) + pad, min(lats) - pad, max(lats) + pad
    # Widen the shorter side so the axes fill the figure at the true aspect: the image then
    # needs no `bbox_inches="tight"` (which draws every figure twice) and is not stretched.
    box = (fig.get_figheight() * (top - bottom)) / (fig.get_figwidth() * (right - left))
    dx, dy = x1 - x0, y1 - y0
    if dy * aspect / dx < box:
        grow = (box * dx / aspect - dy) / 2
        y0, y1 = y0 - grow, y1 + grow
    else:
        grow = (dy * aspect / box - dx) / 2
        x0, x1 = x0 - grow, x1 + grow
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(aspect)
    ax.tick_params(labelsize=6)
    ax.ticklabel_format(useOffset=False, style="plain")
    # Few ticks: six-decimal longitudes otherwise run into each other on a small map.
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.set_xlabel("经度（WGS-84）", fontproperties=prop, fontsize=7)
    ax.set_ylabel("纬度", fontproperties=prop, fontsize=7)
    # A figure text, not ax.set_title: placing an axes title measures the axes' tight bbox on every draw.
    fig.text((left + right) / 2, top + 0.02, "红：警情热点  蓝：固定巡逻点  圆大小：风险份额  括号：本月计划巡查次数",
             fontproperties=prop, fontsize=8, ha="center", va="bottom")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _x(value: object) -> str:
    """Text from the data, escaped for a ReportLab ``Paragraph`` (which parses a small XML markup language).

    Without it a hospital name such as ``<a href="http://evil">请点此重新登录</a>`` became a clickable link in the
    official plan, and ``<img src=...>`` aborted the export.
    """
    return _xml_escape(str(value), {'"': "&quot;", "'": "&#39;"})


def export_pdf(plan, *, scope: AccessScope) -> bytes:
    """The plan as a PDF (bytes) for ``scope``; recorded in the audit trail.

    Every string that comes from the data (hospital, unit and district names, warnings) is escaped with
    :func:`_x` before it goes into a ``Paragraph``; table cells given as plain strings are not parsed.
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    sp = scoped(plan, scope)
    font = _register_font()
    title = ParagraphStyle("t", fontName=font, fontSize=20, leading=28, alignment=1)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=14, leading=20, spaceAfter=6)
    body = ParagraphStyle("b", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    small = ParagraphStyle("s", fontName=font, fontSize=8, leading=11, wordWrap="CJK")
    tstyle = TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ])
    label = DEMO_LABEL if plan.demo else ""
    s = plan.summary()
    story = [Spacer(1, 50 * mm), Paragraph(f"{plan.month} 重点医院周边集中整治与巡防工作方案", title), Spacer(1, 10 * mm)]
    if label:
        story.append(Paragraph(f"【{label}】本方案由合成演示数据生成，数字不代表真实警情。", body))
    story += [
        Paragraph(f"生成时间：{plan.created_at:%Y-%m-%d %H:%M}　随机种子：{plan.seed}（同一种子可复现同一方案）", body),
        Paragraph(f"挂账整治医院{s['listed_hospitals']}家，集中行动{s['actions']}次，投入警力{s['action_officers']}人次；"
                  f"驻院民警{s['patrol_officers']}人，计划巡查{s['visits']}次。", body),
        Paragraph(f"求解状态：{plan.action_result.status}，最优性差距{s['gap']:.2%}，用时{s['action_solve_time_s']:.1f}秒。"
                  f"巡逻覆盖预测风险{s['patrol_covered_risk']:.1f}/{s['patrol_total_risk']:.1f}（期望警情数）。", body),
        PageBreak(), Paragraph("集中行动汇总", h2),
    ]
    rows = [["医院", "日期", "时段", "警力（人）", "参战单位", "预计覆盖警情"]]
    unit_names = dict(zip(plan.units["unit_id"], plan.units["name"], strict=True))
    for a in sp.actions.sort_values("date").itertuples(index=False):
        us = sp.forces[sp.forces["hospital_id"] == a.hospital_id]
        rows.append([Paragraph(_x(plan.hospital_name(a.hospital_id)), small), str(a.date),
                     f"{fmt_time(a.start)}-{fmt_time(a.end)}", str(a.officers),
                     Paragraph("、".join(f"{_x(unit_names.get(u.unit_id, u.unit_id))}{u.officers}人"
                                        for u in us.itertuples(index=False)), small),
                     f"{a.covered_risk:.2f}"])
    if len(rows) == 1:
        rows.append(["（无）", "", "", "", "", ""])
    story += [Table(rows, colWidths=[38 * mm, 22 * mm, 22 * mm, 16 * mm, 62 * mm, 20 * mm], style=tstyle, repeatRows=1)]
    if plan.patrol_result.warnings:
        story += [Spacer(1, 4 * mm), Paragraph(f"提示：{len(plan.patrol_result.warnings)}条排班提示，例如："
                                               + "；".join(_x(w) for w in plan.patrol_result.warnings[:3]), small)]
    vpp = sp.visits.groupby("point_id").size() if len(sp.visits) else pd.Series(dtype=int)
    hids = sorted(set(sp.actions["hospital_id"]) | set(sp.points["hospital_id"]))
    # Split once per hospital instead of filtering the month's rows on every page.
    by_h = sp.hospitals.set_index("hospital_id")
    pts_by = dict(tuple(sp.points.groupby("hospital_id", sort=False)))
    ros_by = dict(tuple(sp.roster.groupby("hospital_id", sort=False))) if len(sp.roster) else {}
    vis_by = dict(tuple(sp.visits.groupby("hospital_id", sort=False))) if len(sp.visits) else {}
    names = dict(zip(sp.officers["officer_id"], sp.officers["display_name"], strict=True))
    for hid in hids:
        h = by_h.loc[hid]
        pts = pts_by.get(hid, sp.points.iloc[0:0])
        story += [PageBreak(), Paragraph(f"{_x(h['name'])}（{_x(h['district'])}）", h2)]
        if label:
            story.append(Paragraph(f"【{label}】", small))
        if len(pts):
            story += [Image(io.BytesIO(_map_png(h, pts, vpp)), width=150 * mm, height=100 * mm)]
        act = sp.actions[sp.actions["hospital_id"] == hid]
        if len(act):
            a = act.iloc[0]
            story.append(Paragraph(f"集中行动：{a['date']} {fmt_time(a['start'])}-{fmt_time(a['end'])}，"
                                   f"警力{a['officers']}人（按风险要求{a['min_officers']}-{a['max_officers']}人）。", body))
        prow = [["巡逻点", "类型", "风险份额", "高峰时段", "本月计划巡查（次）"]]
        for p in pts.itertuples(index=False):
            prow.append([p.name, POINT_KIND_LABELS.get(p.kind, p.kind), f"{p.share:.0%}",
                         "、".join(p.peak_windows) or "-", str(int(vpp.get(p.point_id, 0)))])
        story += [Spacer(1, 3 * mm), Table(prow, style=tstyle, repeatRows=1)]
        ros = ros_by.get(hid, sp.roster.iloc[0:0])
        if len(ros):
            vis_h = vis_by.get(hid, sp.visits.iloc[0:0])
            orow = [["民警", "在岗天数", "早班", "晚班", "计划巡查（次）"]]
            for oid, g in ros.groupby("officer_id"):
                orow.append([f"{names.get(oid, '')}（{oid}）", str(len(g)), str(int((g["shift"] == "早班").sum())),
                             str(int((g["shift"] != "早班").sum())), str(int((vis_h["officer_id"] == oid).sum()))])
            story += [Spacer(1, 3 * mm), Paragraph("驻院民警排班（每日巡逻点位与时刻见 XLSX 与个人日历，按随机方案执行，勿外传）",
                                                   small), Table(orow, style=tstyle, repeatRows=1)]
            first = vis_h.sort_values("start").head(12)
            if len(first):
                pn = dict(zip(pts["point_id"], pts["name"], strict=True))
                trow = [["日期", "时间", "巡逻点", "民警"]]
                for v in first.itertuples(index=False):
                    trow.append([str(v.date), f"{fmt_time(v.start)}-{fmt_time(v.end)}", pn.get(v.point_id, v.point_id),
                                 names.get(v.officer_id, v.officer_id)])
                story += [Spacer(1, 3 * mm), Paragraph("时间表（本月前12次巡查示例）", small), Table(trow, style=tstyle)]

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawString(15 * mm, 10 * mm, f"{plan.month} 巡防工作方案  第{doc.page}页  {label}  内部资料 注意保密")
        canvas.restoreState()

    from reportlab import rl_config

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"{plan.month} 巡防工作方案", author="医院周边警情研判与巡防排班")
    # Without reportlab's C accelerator, ASCII85-encoding the map images in Python took ~2 s;
    # binary (Flate) streams are smaller too.
    a85, rl_config.useA85 = rl_config.useA85, 0
    try:
        doc.build(story, onFirstPage=footer, onLaterPages=footer)
    finally:
        rl_config.useA85 = a85
    data = buf.getvalue()
    record_export(plan, scope, "PDF", data)
    return data
