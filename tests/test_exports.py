"""Exports in Chinese: PDF with an embedded font and extractable text, XLSX, ICS per officer, GeoJSON."""

from __future__ import annotations

import dataclasses
import io
import json

import pandas as pd
import pytest
from sqlalchemy import select

from core.trust.access import AccessScope
from planning.export.geojson import export_geojson
from planning.export.ics import export_ics, export_ics_all
from planning.export.pdf import export_pdf
from planning.export.xlsx import export_xlsx, safe_cell
from tests._planning_store import base_plan

COMMANDER = AccessScope(role="commander", username="cmd1")
PERSONAL = AccessScope(role="admin", personal=True, username="adm")


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return base_plan(tmp_path_factory)


def _audit(plan) -> pd.DataFrame:
    from core.db.schema import AuditEntry

    with plan.engine.connect() as conn:
        return pd.read_sql(select(AuditEntry).where(AuditEntry.action == "export"), conn)


def test_pdf_embeds_font_and_text_is_extractable(plan):
    from pypdf import PdfReader

    from core.trust.audit import sha256_bytes

    scope = AccessScope(role="commander", hospital_ids=frozenset({"bj001", "bj002"}), username="cmd1")
    data = export_pdf(plan, scope=scope)
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "重点医院周边集中整治与巡防工作方案" in text and "演示数据（合成）" in text
    assert "北京协和医院" in text and "挂号大厅" in text and "集中行动" in text
    assert "北京宣武医院" not in text  # outside the scope
    # The CJK font is embedded (a FontFile2 stream), so any viewer renders it.
    fonts = []
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            desc = f["/DescendantFonts"][0].get_object() if "/DescendantFonts" in f else f
            fd = desc.get("/FontDescriptor")
            if fd is not None:
                fonts.append("/FontFile2" in fd.get_object())
    assert fonts and any(fonts)
    # Hospital pages carry a map image; a commander who assigns duty sees the officers by name.
    assert any("/XObject" in p["/Resources"] for p in reader.pages)
    assert "张1明" in text
    assert (_audit(plan)["sha256"] == sha256_bytes(data)).any()


def test_pdf_one_page_per_hospital_plain_words_and_approval_block(plan):
    from pypdf import PdfReader

    from planning.lifecycle import PlanInfo

    draft = PdfReader(io.BytesIO(export_pdf(plan, scope=COMMANDER, record=False)))
    hospitals = sorted(set(plan.actions["hospital_id"]) | set(plan.points["hospital_id"]))
    # Cover, the action table, the overview, then exactly one page per hospital (nothing spills).
    assert len(draft.pages) == 3 + len(hospitals)
    for page, hid in zip(draft.pages[3:], hospitals, strict=True):
        assert plan.hospital_name(hid) in page.extract_text()
    cover = draft.pages[0].extract_text()
    assert "审批签发" in cover and "草稿（待审批）" in cover and "签发（批准）" in cover
    assert "2025-11-01 至 2026-10-31" in cover  # the data window of a 2026-11 plan
    text = "\n".join(p.extract_text() for p in draft.pages)
    for jargon in ("最优性差距", "求解", "optimal", "覆盖预测风险", "种子"):
        assert jargon not in text
    info = PlanInfo(plan_id=7, month=plan.month, seed=plan.seed, status="approved", state="approved",
                    created_at=plan.created_at.to_pydatetime(), username="maker", parent_id=None, approved_by="chief9",
                    approved_at=pd.Timestamp("2026-10-28 09:30").to_pydatetime(), sha256="ab" * 32)
    cover = PdfReader(io.BytesIO(export_pdf(plan, scope=COMMANDER, approval=info, record=False))).pages[0]
    cover = cover.extract_text()
    assert "chief9" in cover and "2026-10-28 09:30" in cover and "ab" * 32 in cover and "已批准" in cover


def test_xlsx_sheets_masking_and_formula_injection(plan):
    from openpyxl import load_workbook

    evil = plan.hospitals.copy()
    evil.loc[evil["hospital_id"] == "bj001", "name"] = "=HYPERLINK(\"http://x\")"
    hacked = dataclasses.replace(plan, hospitals=evil)
    wb = load_workbook(io.BytesIO(export_xlsx(hacked, scope=COMMANDER)))
    assert wb.sheetnames == ["汇总", "集中行动", "每日巡逻", "统计"]
    values = [c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not any(v.startswith("=") for v in values)
    assert "'=HYPERLINK(\"http://x\")" in values
    assert any("演示数据（合成）" in v for v in values)
    daily = wb["每日巡逻"]
    assert daily.max_row - 2 == len(plan.visits)
    names = {r[5] for r in daily.iter_rows(min_row=3, values_only=True)}
    assert "张1明" in names  # commanders assign duty: officers by name
    wb2 = load_workbook(io.BytesIO(export_xlsx(plan, scope=PERSONAL)))
    assert "张1明" in {r[5] for r in wb2["每日巡逻"].iter_rows(min_row=3, values_only=True)}
    assert safe_cell("+1") == "'+1" and safe_cell("@x") == "'@x" and safe_cell("-2") == "'-2" and safe_cell(3) == 3


def test_ics_per_officer_parses_back(plan):
    from icalendar import Calendar

    cals = export_ics_all(plan, scope=COMMANDER)
    assert set(cals) == set(plan.roster["officer_id"])
    oid = "O001"
    cal = Calendar.from_ical(cals[oid])
    events = [c for c in cal.walk("VEVENT")]
    visits = plan.visits[plan.visits["officer_id"] == oid]
    patrol = [e for e in events if str(e["summary"]).startswith("巡逻")]
    assert len(patrol) == len(visits)
    first = visits.sort_values("start").iloc[0]
    starts = sorted(e.decoded("dtstart") for e in patrol)
    assert pd.Timestamp(starts[0]) == first["start"]
    assert all(e.get("location") and "停留12–16分钟" in str(e["description"]) for e in patrol)
    # Stationed officers also see the action their unit serves in.
    assert any(str(e["summary"]).startswith("集中整治行动") for e in events)
    # Without an officer, a commander gets one combined calendar of everybody's visits.
    combined = Calendar.from_ical(export_ics(plan, scope=COMMANDER))
    patrol_all = [e for e in combined.walk("VEVENT") if "巡逻：" in str(e["summary"])]
    assert len(patrol_all) == len(plan.visits)


def test_ics_text_is_escaped_and_folded(plan):
    """Calendars are written as RFC 5545 text directly: odd names survive, lines stay within 75 octets."""
    from icalendar import Calendar

    odd = plan.points.copy()
    pid = plan.visits[plan.visits["officer_id"] == "O001"]["point_id"].iloc[0]
    odd.loc[odd["point_id"] == pid, "name"] = "东门;南侧,\\北\n二层" + "很长的名字" * 20
    cal_bytes = export_ics(dataclasses.replace(plan, points=odd), scope=COMMANDER, officer_id="O001")
    lines = cal_bytes.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75 and lines[-1] == b""
    for line in lines:  # folding never splits a UTF-8 character
        line.decode("utf-8")
    events = Calendar.from_ical(cal_bytes).walk("VEVENT")
    name = odd.loc[odd["point_id"] == pid, "name"].iloc[0]
    assert any(f" {name}（" in str(e["location"]) for e in events)
    assert any(str(e["summary"]).endswith(f"{name}（演示数据（合成））") for e in events)


def test_ics_officer_scope_only_own_calendar(plan):
    me = AccessScope(role="officer", hospital_ids=frozenset({"bj001"}), officer_id="O001", username="o1")
    assert export_ics(plan, scope=me)
    with pytest.raises(PermissionError):
        export_ics(plan, scope=me, officer_id="O002")
    liaison = AccessScope(role="liaison", aggregates_only=True, username="l1")
    with pytest.raises(PermissionError):
        export_pdf(plan, scope=liaison)


def test_geojson_points_and_hotspots(plan):
    doc = json.loads(export_geojson(plan, scope=COMMANDER))
    assert doc["type"] == "FeatureCollection"
    layers = pd.Series([f["properties"]["layer"] for f in doc["features"]]).value_counts()
    assert layers["热点"] >= 2 and layers["巡逻点"] == 3 * plan.hospitals["hospital_id"].nunique()
    for f in doc["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 115 < lon < 118 and 39 < lat < 41.5
    assert all(f["properties"]["data_label"] == "演示数据（合成）" for f in doc["features"])


def test_duty_sheet_is_one_page_with_names(plan):
    from pypdf import PdfReader

    from planning.export.duty import export_duty_sheet

    days = sorted(set(plan.visits["date"]))
    data = export_duty_sheet(plan, scope=COMMANDER, hospital_id="bj001", start=days[0], end=days[2])
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "北京协和医院驻院警务室值勤表" in text and "挂号大厅" in text and "张1明" in text
    me = AccessScope(role="officer", hospital_ids=frozenset({"bj001"}), officer_id="O001", username="o1")
    own = PdfReader(io.BytesIO(export_duty_sheet(plan, scope=me, hospital_id="bj001", start=days[0], end=days[0])))
    assert "张2明" not in own.pages[0].extract_text()
    with pytest.raises(PermissionError):
        export_duty_sheet(plan, scope=me, hospital_id="bj002", start=days[0], end=days[0])
