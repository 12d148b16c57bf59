"""XLSX workbook of the plan: sheets 汇总, 集中行动, 每日巡逻, 统计.

Every text cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, or a tab / carriage return) gets a leading apostrophe, so a hospital or unit name
crafted as a formula cannot run when the file is opened (CSV/formula injection, OWASP); text is
written with XlsxWriter's ``write_string`` only (formula conversion off), so no text cell can be
stored as a formula. XlsxWriter replaced openpyxl here: the month's ~43,000 visit rows took
~12 s CPU through openpyxl's cell objects and ~5 s through XlsxWriter.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from core.safeio import clean_xml_text, neutralize
from core.trust.access import AccessScope
from planning.export import DEMO_LABEL, POINT_KIND_LABELS, fmt_time, record_export, scoped


def safe_cell(value):
    """A cell value with formula-looking text neutralised and XML-illegal characters removed."""
    if isinstance(value, str):
        return neutralize(clean_xml_text(value))
    return value


def _write(ws, row: int, values: list, fmt=None, *, cache: dict | None = None) -> None:
    """Write one row; text always as a string cell (never a formula), numbers as numbers."""
    for col, v in enumerate(values):
        if v is None or (isinstance(v, float) and v != v):
            continue
        if isinstance(v, bool | np.bool_):
            ws.write_boolean(row, col, bool(v), fmt)
        elif isinstance(v, int | float | np.integer | np.floating):
            ws.write_number(row, col, v, fmt)
        else:
            # The visit rows repeat a few hundred distinct texts; clean each once.
            text = cache.get(v) if cache is not None else None
            if text is None:
                text = safe_cell(str(v))
                if cache is not None:
                    cache[v] = text
            ws.write_string(row, col, text, fmt)


def _sheet(wb, title: str, header: list[str], rows: list[list], *, label: str = "") -> None:
    ws = wb.add_worksheet(title)
    for i, h in enumerate(header):
        ws.set_column(i, i, max(10, 2 * len(str(h)) + 4))
    r = 0
    if label:
        _write(ws, r, [label], wb.add_format({"bold": True, "font_color": "#C00000"}))
        r += 1
    _write(ws, r, header, wb.add_format({"bold": True}))
    cache: dict = {}
    for i, values in enumerate(rows, start=r + 1):
        _write(ws, i, values, cache=cache)


def export_xlsx(plan, *, scope: AccessScope) -> bytes:
    """The plan as an XLSX workbook (bytes) for ``scope``; recorded in the audit trail."""
    import xlsxwriter

    sp = scoped(plan, scope)
    label = DEMO_LABEL if plan.demo else ""
    s = plan.summary()
    buf = io.BytesIO()
    # XlsxWriter streams cells (constant memory) and writes the month's ~40,000 visit rows
    # about ten times faster than openpyxl's cell objects; text goes in via write_string
    # only, so no cell of user text can become a formula.
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    summary = [
        ["月份", plan.month], ["随机种子", plan.seed], ["生成时间", f"{plan.created_at:%Y-%m-%d %H:%M}"],
        ["挂账整治医院（家）", s["listed_hospitals"]], ["集中行动（次）", len(sp.actions)],
        ["集中行动警力（人次）", int(sp.actions["officers"].sum()) if len(sp.actions) else 0],
        ["计划巡查（次）", len(sp.visits)], ["求解状态", plan.action_result.status],
        ["最优性差距", round(float(s["gap"]), 6)], ["求解用时（秒）", round(float(s["action_solve_time_s"]), 3)],
        ["巡逻覆盖风险", round(s["patrol_covered_risk"], 3)], ["总风险", round(s["patrol_total_risk"], 3)],
    ]
    if label:
        summary.insert(0, ["数据说明", f"{label}：本表由合成演示数据生成，不代表真实警情"])
    _sheet(wb, "汇总", ["项目", "数值"], summary)
    unit_names = dict(zip(plan.units["unit_id"], plan.units["name"], strict=True))
    rows = []
    for a in sp.actions.sort_values("date").itertuples(index=False):
        us = sp.forces[sp.forces["hospital_id"] == a.hospital_id]
        rows.append([plan.hospital_name(a.hospital_id), str(a.date), fmt_time(a.start), fmt_time(a.end), int(a.hours),
                     int(a.officers), int(a.min_officers), int(a.max_officers),
                     "、".join(f"{unit_names.get(u.unit_id, u.unit_id)}{u.officers}人" for u in us.itertuples(index=False)),
                     round(float(a.covered_risk), 3), "是" if a.locked else "否"])
    _sheet(wb, "集中行动", ["医院", "日期", "开始", "结束", "时长（小时）", "警力（人）", "最少警力", "最多警力", "参战单位",
                         "预计覆盖警情", "已锁定"], rows, label=label)
    names = dict(zip(sp.officers["officer_id"], sp.officers["display_name"], strict=True))
    pname = dict(zip(sp.points["point_id"], sp.points["name"], strict=True))
    pkind = dict(zip(sp.points["point_id"], sp.points["kind"], strict=True))
    hname = dict(zip(plan.hospitals["hospital_id"], plan.hospitals["name"], strict=True))
    v = sp.visits
    starts = v["start"].dt.tz_convert("Asia/Shanghai").dt.strftime("%H:%M") if len(v) else []
    ends = v["end"].dt.tz_convert("Asia/Shanghai").dt.strftime("%H:%M") if len(v) else []
    rows = [
        [str(d), hname.get(h, h), pname.get(pid, pid), POINT_KIND_LABELS.get(pkind.get(pid, ""), ""), oid,
         names.get(oid, ""), s0, s1]
        for d, h, pid, oid, s0, s1 in zip(v["date"], v["hospital_id"], v["point_id"], v["officer_id"], starts, ends,
                                           strict=True)
    ]
    _sheet(wb, "每日巡逻", ["日期", "医院", "巡逻点", "点位类型", "民警编号", "民警", "开始", "结束"], rows, label=label)
    stats = monthly_table(plan, sp)
    _sheet(wb, "统计", list(stats.columns), stats.astype(object).where(stats.notna(), None).to_numpy().tolist(),
           label=label)
    wb.close()
    data = buf.getvalue()
    record_export(plan, scope, "XLSX", data)
    return data


def monthly_table(plan, sp) -> pd.DataFrame:
    """Per hospital: planned work and, when reported, the month's outcomes (工作量化统计表)."""
    from planning.outcomes import LABELS, monthly_statistics

    hids = sorted(set(sp.actions["hospital_id"]) | set(sp.visits["hospital_id"]))
    planned = pd.DataFrame({"hospital_id": hids})
    planned["医院"] = [plan.hospital_name(h) for h in hids]
    planned["计划集中行动（次）"] = planned["hospital_id"].map(sp.actions.groupby("hospital_id").size()).fillna(0).astype(int)
    planned["计划行动警力（人次）"] = planned["hospital_id"].map(sp.actions.groupby("hospital_id")["officers"].sum()).fillna(0)
    planned["计划巡查（次）"] = planned["hospital_id"].map(sp.visits.groupby("hospital_id").size()).fillna(0).astype(int)
    if plan.engine is not None:
        done = monthly_statistics(plan.engine, month=plan.month)
        if len(done):
            done = done.drop(columns=["name"], errors="ignore").rename(columns=LABELS)
            planned = planned.merge(done, on="hospital_id", how="left")
    return planned.drop(columns=["hospital_id"])
