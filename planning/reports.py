"""Reports from what was recorded: patrol dosage, the quantified statistics table (工作量化统计表)
and the one-page monthly bulletin (月度通报) for the coordination meeting.

Every figure comes from entries people made (check-ins, action results) or from the approved
plan; nothing is estimated. Dosage compares planned visits that are due (planned start in the
past) with the check-ins: done, missed, not reported. A peak window's revisit is **kept** when
the done visits at the point leave no gap longer than ``settings.PATROL_MAX_REVISIT_MIN``
minutes inside the window (the rule the plan promises).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from core import settings
from core.safeio import rl_text

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def period_bounds(period: str) -> tuple[dt.date, dt.date, str]:
    """First day, last day and Chinese label of a month ("2026-11") or quarter ("2026Q4")."""
    m = _QUARTER.match(period)
    if m:
        p = pd.Period(f"{m.group(1)}Q{m.group(2)}", "Q")
        return p.start_time.date(), p.end_time.date(), f"{m.group(1)}年第{m.group(2)}季度"
    if _MONTH.match(period):
        p = pd.Period(period, "M")
        return p.start_time.date(), p.end_time.date(), f"{p.year}年{p.month}月"
    raise ValueError(f"统计周期应为月份 YYYY-MM 或季度 YYYYQn，收到 {period!r}。")


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz=settings.TIMEZONE).tz_localize(None)


# --------------------------------------------------------------------------- dosage


@dataclass
class Dosage:
    """Planned versus done patrol visits of one month.

    Attributes
    ----------
    by_hospital, by_officer, by_week
        planned (due so far), done, missed, unreported, compliance (done / planned, NaN without
        planned visits); by_officer also officer name and hospital; by_week the Monday.
    peaks
        Per hospital: peak windows due, kept (no gap above the revisit limit) and kept share.
    source
        Where the planned visits came from (已批准方案 N, or the check-ins themselves).
    as_of
        Visits planned before this time count as due.
    """

    month: str
    by_hospital: pd.DataFrame
    by_officer: pd.DataFrame
    by_week: pd.DataFrame
    peaks: pd.DataFrame
    source: str
    as_of: pd.Timestamp
    totals: dict = field(default_factory=dict)


def _agg(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = df.groupby(keys, dropna=False).agg(planned=("visit_id", "size"), done=("done", "sum"),
                                             missed=("missed", "sum")).reset_index()
    out["unreported"] = out["planned"] - out["done"] - out["missed"]
    out["compliance"] = np.where(out["planned"] > 0, out["done"] / out["planned"].clip(lower=1), np.nan)
    return out


def dosage(engine: Engine, *, month: str, as_of: pd.Timestamp | None = None, hospital_ids=None) -> Dosage:
    """Patrol dosage of ``month``: planned (approved plan) versus done (check-ins).

    Without an approved plan (the demo's past months), the check-ins themselves list the
    planned visits, done or missed.
    """
    from core.db import load_hospitals
    from planning.checkins import list_checkins, plan_visits
    from planning.lifecycle import approved_plan_id, load_document, month_bounds

    first, last = month_bounds(month)
    as_of = pd.Timestamp(as_of) if as_of is not None else _now()
    chk = list_checkins(engine, start=first, end=last, hospital_ids=hospital_ids)
    pid = approved_plan_id(engine, month)
    guarantees = pd.DataFrame(columns=["hospital_id", "point_id", "start", "end"])
    if pid is not None:
        doc = load_document(engine, pid)
        planned = plan_visits(doc)[["visit_id", "hospital_id", "point_id", "officer_id", "officer", "start"]]
        if hospital_ids is not None:
            planned = planned[planned["hospital_id"].isin(set(hospital_ids))]
        chk = chk[chk["plan_id"] == pid]
        source = f"已批准方案{pid}"
        g = pd.DataFrame(doc.get("peak_guarantees", []))
        if len(g):
            g["start"] = pd.to_datetime(g["start"].str[:19])
            g["end"] = pd.to_datetime(g["end"].str[:19])
            guarantees = g
    else:
        planned = chk.rename(columns={"planned_start": "start"}).assign(
            visit_id=lambda d: d["id"].astype(str), officer=chk["officer_id"])[
            ["visit_id", "hospital_id", "point_id", "officer_id", "officer", "start"]]
        chk = chk.assign(visit_id=chk["id"].astype(str))
        source = "签到记录（本月无已批准方案）"
        peak_rows = chk[chk["peak"]]
        if len(peak_rows):
            # Peak windows recorded with the visits: the hour span of each (day, point)'s peak visits.
            d = peak_rows.assign(day=peak_rows["planned_start"].dt.normalize())
            guarantees = d.groupby(["hospital_id", "point_id", "day"]).agg(
                start=("planned_start", "min"), end=("planned_end", "max")).reset_index()
    planned = planned[planned["start"] < as_of]
    status = chk.set_index("visit_id")["status"] if len(chk) else pd.Series(dtype=str)
    planned = planned.assign(status=planned["visit_id"].map(status).fillna(""))
    planned["done"] = (planned["status"] == "done").astype(int)
    planned["missed"] = (planned["status"] == "missed").astype(int)
    names = load_hospitals(engine).set_index("hospital_id")["name"]
    by_h = _agg(planned, ["hospital_id"])
    by_h.insert(1, "name", by_h["hospital_id"].map(names))
    by_o = _agg(planned, ["officer_id", "officer", "hospital_id"])
    by_o.insert(3, "hospital", by_o["hospital_id"].map(names))
    if pid is None and len(by_o):
        from core.db import load_officers

        off = load_officers(engine).set_index("officer_id")["name"]
        by_o["officer"] = by_o["officer_id"].map(off).fillna(by_o["officer_id"])
    wk = planned.assign(week=(planned["start"] - pd.to_timedelta(planned["start"].dt.day_of_week, unit="D")).dt.date)
    by_w = _agg(wk, ["week"]) if len(wk) else _agg(wk.assign(week=[]), ["week"])
    # Peak revisits kept: done visits' actual starts inside each due window, no gap above the limit.
    limit = pd.Timedelta(minutes=settings.PATROL_MAX_REVISIT_MIN)
    g = guarantees[guarantees["end"] <= as_of] if len(guarantees) else guarantees
    if hospital_ids is not None and len(g):
        g = g[g["hospital_id"].isin(set(hospital_ids))]
    done = chk[chk["status"] == "done"]
    starts = {k: np.sort(v["actual_start"].to_numpy(dtype="datetime64[ns]"))
              for k, v in done.groupby(["hospital_id", "point_id"])} if len(done) else {}
    kept_rows = []
    for r in g.itertuples(index=False):
        ts = starts.get((r.hospital_id, r.point_id), np.array([], dtype="datetime64[ns]"))
        ws, we = np.datetime64(r.start, "ns"), np.datetime64(r.end, "ns")
        inside = ts[(ts >= ws) & (ts < we)]
        marks = np.concatenate([[ws], inside, [we]])
        # Kept: at least one visit done in the window and no gap above the limit.
        kept_rows.append((r.hospital_id, len(inside) > 0 and bool((np.diff(marks) <= limit.to_timedelta64()).all())))
    peaks = pd.DataFrame(kept_rows, columns=["hospital_id", "kept"])
    peaks = peaks.groupby("hospital_id").agg(windows=("kept", "size"), kept=("kept", "sum")).reset_index() \
        if len(peaks) else pd.DataFrame(columns=["hospital_id", "windows", "kept"])
    peaks["kept_share"] = peaks["kept"] / peaks["windows"].clip(lower=1)
    peaks.insert(1, "name", peaks["hospital_id"].map(names))
    tot_p, tot_d = int(by_h["planned"].sum()), int(by_h["done"].sum())
    totals = {"planned": tot_p, "done": tot_d, "missed": int(by_h["missed"].sum()),
              "unreported": int(by_h["unreported"].sum()), "compliance": tot_d / tot_p if tot_p else float("nan"),
              "peak_windows": int(peaks["windows"].sum()), "peak_kept": int(peaks["kept"].sum())}
    totals["peak_kept_share"] = totals["peak_kept"] / totals["peak_windows"] if totals["peak_windows"] else float("nan")
    return Dosage(month, by_h.sort_values("hospital_id", ignore_index=True), by_o, by_w, peaks, source, as_of, totals)


def screen_dosage(engine: Engine, *, month: str) -> dict:
    """Dosage figures for the meeting screen (会商大屏): totals and the five least compliant hospitals.

    Returns
    -------
    dict
        ``planned``, ``done``, ``missed``, ``unreported``, ``compliance`` (0..1 or NaN),
        ``peak_windows``, ``peak_kept``, ``peak_kept_share``, ``source`` and ``lowest`` (list of
        {"name", "planned", "done", "compliance"}).
    """
    d = dosage(engine, month=month)
    low = d.by_hospital[d.by_hospital["planned"] > 0].sort_values("compliance").head(5)
    return d.totals | {"source": d.source, "lowest": [
        {"name": r.name, "planned": int(r.planned), "done": int(r.done), "compliance": float(r.compliance)}
        for r in low.itertuples(index=False)]}


# --------------------------------------------------------------------------- 工作量化统计表

#: Columns of the statistics table (key, Chinese header), in the order of the annex form.
WORKLOAD_COLUMNS = (
    ("actions_done", "集中行动（次）"),
    ("action_officers", "投入警力（人次）"),
    ("visits_planned", "计划巡查（次）"),
    ("visits_done", "完成巡查（次）"),
    ("visits_missed", "未完成巡查（次）"),
    ("compliance", "巡查完成率"),
    ("persons_checked", "盘查人员（人）"),
    ("scalpers_caught", "抓获号贩子（人）"),
    ("touts_caught", "抓获医托（人）"),
    ("warned_away", "劝离（人）"),
    ("cases_handed_over", "移交案件（起）"),
)


def workload_table(engine: Engine, *, period: str, hospital_ids=None) -> pd.DataFrame:
    """The quantified statistics by hospital of a month or quarter, with planned visits and compliance.

    Returns
    -------
    pandas.DataFrame
        hospital_id, name and the keys of :data:`WORKLOAD_COLUMNS`; a final 合计 row.
    """
    from planning.outcomes import statistics

    first, last, _ = period_bounds(period)
    stats = statistics(engine, start=first, end=last)
    stats = stats[stats["hospital_id"].notna()]
    months = [str(p) for p in pd.period_range(first, last, freq="M")]
    planned = pd.concat([dosage(engine, month=m, hospital_ids=hospital_ids).by_hospital[["hospital_id", "planned"]]
                         for m in months], ignore_index=True).groupby("hospital_id")["planned"].sum()
    out = stats.merge(planned.rename("visits_planned").reset_index(), on="hospital_id", how="outer")
    if hospital_ids is not None:
        out = out[out["hospital_id"].isin(set(hospital_ids))]
    from core.db import load_hospitals

    names = load_hospitals(engine).set_index("hospital_id")["name"]
    out["name"] = out["hospital_id"].map(names)
    keys = [k for k, _ in WORKLOAD_COLUMNS if k != "compliance"]
    for k in keys:
        out[k] = out[k].fillna(0).astype(int) if k in out else 0
    out = out[["hospital_id", "name", *keys]].sort_values("hospital_id", ignore_index=True)
    total = {k: int(out[k].sum()) for k in keys}
    out = pd.concat([out, pd.DataFrame([{"hospital_id": None, "name": "合计", **total}])], ignore_index=True)
    out["compliance"] = np.where(out["visits_planned"] > 0, out["visits_done"] / out["visits_planned"].clip(lower=1),
                                 np.nan)
    return out[["hospital_id", "name", *[k for k, _ in WORKLOAD_COLUMNS]]]


def _pct(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.1%}"


def workload_xlsx(engine: Engine, *, period: str, unit: str = "", demo: bool | None = None) -> bytes:
    """The 工作量化统计表 of ``period`` as XLSX: title, unit and period lines, a two-level header,
    one row per hospital, 合计, and 填报人/审核人 lines."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    from core.db import is_demo
    from core.safeio import neutralize as safe_cell

    first, last, label = period_bounds(period)
    df = workload_table(engine, period=period)
    demo = is_demo(engine) if demo is None else demo
    wb = Workbook()
    ws = wb.active
    ws.title = "工作量化统计表"
    ncol = 2 + len(WORKLOAD_COLUMNS) + 1
    thin = Side(style="thin", color="000000")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    ws.cell(1, 1, "重点医院周边环境秩序整治工作量化统计表" + ("（演示数据，合成）" if demo else ""))
    ws.cell(1, 1).font = Font(size=16, bold=True)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncol)
    ws.cell(2, 1, f"填报单位：{safe_cell(unit) or '（单位名称）'}　　统计周期：{label}（{first}至{last}）　　"
                  f"填报日期：{_now():%Y-%m-%d}")
    groups = [("序号", 1), ("医院", 1), ("集中行动", 2), ("日常巡查", 4), ("工作成效", 5), ("备注", 1)]
    col = 1
    for name, span in groups:
        ws.cell(3, col, name)
        if span > 1:
            ws.merge_cells(start_row=3, start_column=col, end_row=3, end_column=col + span - 1)
        else:
            ws.merge_cells(start_row=3, start_column=col, end_row=4, end_column=col)
        col += span
    for j, (_, head) in enumerate(WORKLOAD_COLUMNS):
        ws.cell(4, 3 + j, head)
    for i, r in enumerate(df.itertuples(index=False), start=1):
        row = 4 + i
        ws.cell(row, 1, "" if r.hospital_id is None else i)
        ws.cell(row, 2, safe_cell(r.name))
        for j, (k, _) in enumerate(WORKLOAD_COLUMNS):
            v = getattr(r, k)
            ws.cell(row, 3 + j, _pct(v) if k == "compliance" else int(v))
        ws.cell(row, ncol, "")
    end = 4 + len(df)
    for rr in ws.iter_rows(min_row=3, max_row=end, max_col=ncol):
        for c in rr:
            c.border = box
            c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for rr in ws.iter_rows(min_row=3, max_row=4, max_col=ncol):
        for c in rr:
            c.font = Font(bold=True)
    ws.cell(end + 2, 1, "填报人：　　　　　　审核人：　　　　　　联系电话：")
    ws.cell(end + 3, 1, "说明：数字取自系统内驻院民警巡查签到与指挥员登记的集中行动成果；完成率 = 完成巡查 ÷ 已到期的计划巡查。")
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 22
    for j in range(3, ncol + 1):
        ws.column_dimensions[get_column_letter(j)].width = 11
    ws.row_dimensions[4].height = 36
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def workload_pdf(engine: Engine, *, period: str, unit: str = "") -> bytes:
    """The 工作量化统计表 of ``period`` as a one-page landscape A4 PDF (Chinese)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from core.db import is_demo
    from planning.export.fonts import register_font

    font = register_font()
    first, last, label = period_bounds(period)
    df = workload_table(engine, period=period)
    title = ParagraphStyle("t", fontName=font, fontSize=15, leading=20, alignment=1)
    body = ParagraphStyle("b", fontName=font, fontSize=8.5, leading=12)
    cell = ParagraphStyle("c", fontName=font, fontSize=7, leading=9, alignment=1, wordWrap="CJK")
    demo = is_demo(engine)
    head = [Paragraph(h, cell) for h in ["序号", "医院", *[h for _, h in WORKLOAD_COLUMNS]]]
    rows = [head]
    for i, r in enumerate(df.itertuples(index=False), start=1):
        rows.append(["" if r.hospital_id is None else str(i), str(r.name)[:16],
                     *[_pct(getattr(r, k)) if k == "compliance" else str(int(getattr(r, k))) for k, _ in WORKLOAD_COLUMNS]])
    # Row height and type shrink with the number of hospitals so the table stays on one page.
    rh = min(7 * mm, 150 * mm / max(len(rows) - 1, 1))
    fs = max(4.5, min(8.0, rh * 0.55))
    style = TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 1), (-1, -1), fs),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f3f3f3")),
        ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ("LEADING", (0, 1), (-1, -1), fs * 1.15),
    ])
    widths = [10 * mm, 46 * mm] + [19.5 * mm] * len(WORKLOAD_COLUMNS)
    story = [Paragraph("重点医院周边环境秩序整治工作量化统计表", title), Spacer(1, 2 * mm),
             Paragraph(rl_text(f"填报单位：{unit or '（单位名称）'}　统计周期：{label}（{first}至{last}）　填报日期：{_now():%Y-%m-%d}"
                       + ("　【演示数据（合成）】" if demo else "")), body), Spacer(1, 2 * mm),
             Table(rows, colWidths=widths, rowHeights=[9 * mm] + [rh] * (len(rows) - 1), style=style, repeatRows=1),
             Spacer(1, 3 * mm),
             Paragraph("填报人：　　　　　　审核人：　　　　　　（数字取自巡查签到与集中行动成果登记；"
                       "完成率 = 完成巡查 ÷ 已到期的计划巡查）", body)]
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=10 * mm, rightMargin=10 * mm, topMargin=10 * mm,
                      bottomMargin=10 * mm, title=f"工作量化统计表 {label}").build(story)
    return buf.getvalue()


# --------------------------------------------------------------------------- 月度通报


def _data_end(engine: Engine) -> pd.Timestamp:
    """Local time of the newest incident in the store (NaT-safe: 1970 when empty)."""
    from sqlalchemy import func, select

    from core.db.schema import Incident

    with engine.connect() as conn:
        v = conn.execute(select(func.max(Incident.received_at))).scalar()
    return pd.Timestamp(v) if v is not None else pd.Timestamp("1970-01-01")


def monthly_bulletin(engine: Engine, *, month: str, as_of: pd.Timestamp | None = None) -> dict:
    """The facts of the one-page monthly bulletin (月度通报) of ``month``.

    Returns
    -------
    dict
        ``situation`` (incidents this month and last, change, top hospitals and categories; only
        a complete month is compared), ``keylist`` (列入 / 销号 against the month before),
        ``actions`` (recorded results, one per action, with the measured effect where its
        after-window has passed, else 待评估), ``patrol`` (dosage totals), ``next`` (next month's
        approved actions, or a note that it is not yet approved), ``demo``.
    """
    from core.db import is_demo, load_hospitals, load_incidents
    from planning.keylist import final_keylist
    from planning.lifecycle import approved_plan_id, load_document, month_bounds
    from planning.outcomes import action_results, evaluate_actions

    first, last = month_bounds(month)
    as_of = pd.Timestamp(as_of) if as_of is not None else _now()
    names = load_hospitals(engine).set_index("hospital_id")["name"]
    prev = str(pd.Period(month, "M") - 1)
    p_first, _ = month_bounds(prev)
    tz = settings.TIMEZONE
    ev = load_incidents(engine, start=pd.Timestamp(p_first).tz_localize(tz),
                        end=pd.Timestamp(last + dt.timedelta(days=1)).tz_localize(tz),
                        columns=["received_at", "hospital_id", "category"])
    t = ev["received_at"].dt.tz_convert(tz).dt.tz_localize(None) if len(ev) else pd.Series(dtype="datetime64[ns]")
    cur = ev[(t >= pd.Timestamp(first)).to_numpy()] if len(ev) else ev
    before = ev[(t < pd.Timestamp(first)).to_numpy()] if len(ev) else ev
    # Compared with the month before only when the data cover the whole month.
    complete = _data_end(engine) >= pd.Timestamp(last) and as_of >= pd.Timestamp(last + dt.timedelta(days=1))
    near = cur[cur["hospital_id"].notna()]
    top_h = near["hospital_id"].value_counts().head(3)
    top_c = near["category"].value_counts().head(3)
    situation = {
        "incidents": len(near), "previous": int(before["hospital_id"].notna().sum()), "complete": bool(complete),
        "top_hospitals": [(str(names.get(h, h)), int(n)) for h, n in top_h.items()],
        "top_categories": [(str(c), int(n)) for c, n in top_c.items()],
    }
    listed_now = set(final_keylist(engine, month=month, create=False))
    listed_prev = set(final_keylist(engine, month=prev, create=False))
    keylist = {"listed": len(listed_now), "added": sorted(str(names.get(h, h)) for h in listed_now - listed_prev),
               "removed": sorted(str(names.get(h, h)) for h in listed_prev - listed_now),
               "known": bool(listed_now or listed_prev)}
    res = action_results(engine, start=first, end=last)
    try:
        ev_tab = evaluate_actions(engine, month=month).table
    except ValueError:
        ev_tab = pd.DataFrame(columns=["hospital_id", "date", "complete", "verdict", "t_before", "t_after"])
    effects = {(r.hospital_id, pd.Timestamp(r.date).date()): r for r in ev_tab.itertuples(index=False)}
    actions = []
    for r in res.itertuples(index=False):
        e = effects.get((r.hospital_id, pd.Timestamp(r.date).date()))
        if e is None:
            effect = "无对应的已批准行动，不作成效评估"
        elif e.complete:
            effect = f"{e.verdict}（前后各{28}天本院警情 {e.t_before}→{e.t_after} 起，已扣除对照医院变化）"
        else:
            effect = e.verdict
        actions.append({"hospital": str(names.get(r.hospital_id, r.hospital_id)), "date": str(r.date),
                        "officers": int(r.officers), "units": "、".join(u["name"] for u in r.units),
                        "persons_checked": int(r.persons_checked), "scalpers_caught": int(r.scalpers_caught),
                        "touts_caught": int(r.touts_caught), "warned_away": int(r.warned_away),
                        "cases_handed_over": int(r.cases_handed_over), "effect": effect})
    d = dosage(engine, month=month, as_of=as_of)
    nxt = str(pd.Period(month, "M") + 1)
    pid = approved_plan_id(engine, nxt)
    if pid is None:
        next_plan = {"month": nxt, "approved": False, "actions": []}
    else:
        doc = load_document(engine, pid)
        next_plan = {"month": nxt, "approved": True, "plan_id": pid, "actions": [
            {"hospital": a["hospital"], "date": a["date"], "time": f"{a['start'][11:16]}-{a['end'][11:16]}",
             "officers": a["officers"]} for a in sorted(doc.get("actions", []), key=lambda a: a["start"])],
            "visits": len(doc.get("visits", []))}
    return {"month": month, "situation": situation, "keylist": keylist, "actions": actions,
            "patrol": d.totals | {"source": d.source}, "next": next_plan, "demo": is_demo(engine),
            "as_of": str(as_of.floor("min"))}


def bulletin_text(b: dict) -> list[tuple[str, list[str]]]:
    """The bulletin as (section title, paragraphs) in plain Chinese."""
    y, m = b["month"].split("-")
    s = b["situation"]
    sit = [f"{int(y)}年{int(m)}月{'' if s['complete'] else '（截至数据最新日期）'}，重点医院周边共接报警情和投诉{s['incidents']}起"
           + (f"，较上月{s['previous']}起{'上升' if s['incidents'] > s['previous'] else '下降'}"
              f"{abs(s['incidents'] - s['previous'])}起。" if s["complete"] and s["previous"]
              else "（本月数据不完整，暂不与上月比较）。")]
    if s["top_hospitals"]:
        sit.append("警情较多的医院：" + "、".join(f"{n}（{c}起）" for n, c in s["top_hospitals"]) + "。")
    if s["top_categories"]:
        sit.append("主要类别：" + "、".join(f"{n}{c}起" for n, c in s["top_categories"]) + "。")
    k = b["keylist"]
    kl = [f"本月挂账整治重点医院{k['listed']}家。"
          + (f"新列入：{'、'.join(k['added'])}。" if k["added"] else "")
          + (f"销号：{'、'.join(k['removed'])}。" if k["removed"] else "")
          + ("" if k["added"] or k["removed"] else ("名单与上月相同。" if k["known"] else "名单尚未审定。"))]
    acts = []
    if b["actions"]:
        tot = {f: sum(a[f] for a in b["actions"]) for f in ("officers", "persons_checked", "scalpers_caught",
                                                          "touts_caught", "warned_away", "cases_handed_over")}
        acts.append(f"开展集中行动{len(b['actions'])}次，投入警力{tot['officers']}人次，盘查{tot['persons_checked']}人，"
                    f"抓获号贩子{tot['scalpers_caught']}人、医托{tot['touts_caught']}人，劝离{tot['warned_away']}人，"
                    f"移交案件{tot['cases_handed_over']}起。")
        for a in b["actions"]:
            acts.append(f"{a['date'][5:]} {a['hospital']}：{a['officers']}人（{a['units'] or '参战单位未填'}），"
                        f"抓获号贩子{a['scalpers_caught']}人、医托{a['touts_caught']}人；成效：{a['effect']}。")
    else:
        acts.append("本月尚无登记的集中行动成果。")
    p = b["patrol"]
    pat = [f"驻院民警到期计划巡查{p['planned']}次，完成{p['done']}次，未完成{p['missed']}次，未上报{p['unreported']}次，"
           f"完成率{_pct(p['compliance'])}；高峰时段两小时复巡达标{p['peak_kept']}/{p['peak_windows']}个时段。"]
    n = b["next"]
    ny, nm = n["month"].split("-")
    if n["approved"]:
        nxt = [f"{int(ny)}年{int(nm)}月方案已批准：集中行动{len(n['actions'])}次，日常巡查{n['visits']}次。"]
        nxt += ["、".join(f"{a['date'][5:]} {a['hospital']}" for a in n["actions"][:12]) + "。"] if n["actions"] else []
    else:
        nxt = [f"{int(ny)}年{int(nm)}月方案尚未批准。"]
    return [("一、警情态势", sit), ("二、重点医院名单变化", kl), ("三、集中行动开展情况及成效", acts),
            ("四、日常巡防", pat), ("五、下月工作安排", nxt)]


def bulletin_pdf(b: dict) -> bytes:
    """The monthly bulletin as a one-page A4 PDF (Chinese); long action lists are cut to fit."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepInFrame, Paragraph, SimpleDocTemplate, Spacer

    from planning.export.fonts import register_font

    font = register_font()
    y, m = b["month"].split("-")
    title = ParagraphStyle("t", fontName=font, fontSize=18, leading=26, alignment=1)
    h2 = ParagraphStyle("h", fontName=font, fontSize=12, leading=18, spaceBefore=4)
    body = ParagraphStyle("b", fontName=font, fontSize=10, leading=15, firstLineIndent=20, wordWrap="CJK")
    story = [Paragraph(f"重点医院周边环境秩序整治工作月度通报（{int(y)}年{int(m)}月）", title)]
    if b.get("demo"):
        story.append(Paragraph("【演示数据（合成），数字不代表真实情况】", body))
    story.append(Spacer(1, 3 * mm))
    for head, paras in bulletin_text(b):
        story.append(Paragraph(rl_text(head), h2))
        story += [Paragraph(rl_text(p), body) for p in paras]
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(f"数据截至 {b['as_of'][:16]}。", body))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=f"月度通报 {b['month']}")
    # One page: shrink the content to the frame rather than spill onto a second page.
    doc.build([KeepInFrame(doc.width, doc.height, story, mode="shrink")])
    return buf.getvalue()
