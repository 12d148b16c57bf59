"""The campaign loop walked in a real Chromium as three users on a private copy of the demo store.

A commander generates next month's plan on 巡防计划, edits it (suppresses one patrol point, with a
reason, through re-planning) and approves it; the stationed officer (驻院民警) downloads their calendar
(it parses with ``icalendar`` and carries exactly their visits), opens 今日任务 and checks in two
visits (one done with three people warned away, one missed with a reason); the commander records the
results of one action on 成效评估. The 工作量化统计表 (CSV and XLSX downloads) and the 月度通报 (on the
page and as PDF) then show exactly those entries, and the edited plan passes the independent checker.

Every step waits for a state (a selector, the script state ``notRunning``), never for a fixed time.
Screenshots of the steps go to test-artifacts/loop_*.png.
"""

from __future__ import annotations

import io
import re

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM, Browser, start_server, stop_server
from tests.browser.test_pages_browser import _open, _sign_in, _wait_idle
from tests.plan_checker import check_plan

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: A long wait: plan generation and re-planning solve LPs and MIPs on a loaded machine.
SOLVE_MS = 600_000


def _shoot(b: Browser, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    height = b.page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    size = b.page.viewport_size
    b.page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 8000)})
    b.page.screenshot(path=str(ARTIFACTS / f"loop_{name}.png"))
    b.page.set_viewport_size(size)


def _key(key: str) -> str:
    """CSS selector of the element Streamlit draws for the widget or form of ``key``."""
    return f".st-key-{key}"


def _click_and_wait(b: Browser, selector: str, done: str, timeout: float = 180_000) -> None:
    """Click ``selector`` and wait until ``done`` (a selector of what the rerun shows) and the app is idle."""
    b.page.locator(selector).first.click()
    b.page.wait_for_selector(done, timeout=timeout)
    _wait_idle(b, timeout)


def _choose(b: Browser, key: str, option: str) -> None:
    """Pick ``option`` (its exact text) in the selectbox or multiselect of ``key``."""
    widget = b.page.locator(_key(key))
    shown = widget.evaluate("e => e.textContent + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")
    if option in shown:
        return  # already the chosen value (a selectbox starts on its first option; it may show it as input value)
    box = widget.locator("[role='combobox']")
    wanted = b.page.get_by_role("option").filter(has_text=re.compile(f"^{re.escape(option)}$")).first
    for attempt in range(3):  # a click during the expander's opening or a rerun can leave the list closed
        box.click()
        box.fill(option)  # the list is virtualised: filter it down to the option
        try:
            wanted.wait_for(state="visible", timeout=20_000)
            break
        except Exception:
            if attempt == 2:
                raise
            b.page.keyboard.press("Escape")
            _wait_idle(b)
    wanted.click()
    if b.page.get_by_role("listbox").count():
        b.page.keyboard.press("Escape")  # a multiselect keeps its list open over the widgets below
    _wait_idle(b)


def _download(b: Browser, selector: str) -> bytes:
    with b.page.expect_download(timeout=180_000) as info:
        b.page.locator(selector).first.click()
    return open(info.value.path(), "rb").read()


def _fill_number(b: Browser, key: str, value: int) -> None:
    box = b.page.locator(f"{_key(key)} input")
    box.fill(str(value))
    box.press("Tab")


@pytest.fixture
def loop_server(demo_copy_url):
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium not installed at {CHROMIUM}")
    proc, base = start_server(demo_copy_url)
    yield demo_copy_url, base
    stop_server(proc)


def test_three_users_close_the_loop_in_the_browser(loop_server, playwright_instance):
    import icalendar
    import openpyxl
    import pandas as pd
    from pypdf import PdfReader

    from core.db import get_engine, load_hospitals
    from core.trust.audit import list_entries
    from core.trust.auth import get_user
    from planning import lifecycle
    from planning.replan import plan_edits

    url, server = loop_server
    engine = get_engine(url)
    names = load_hospitals(engine).set_index("hospital_id")["name"].to_dict()
    cmd = Browser(playwright_instance, width=1600, height=1000)
    off = Browser(playwright_instance, width=1280, height=900)
    try:
        # ---------------------------------------------------------------- commander: generate a draft
        _sign_in(cmd, server, "指挥员")
        _open(cmd, "巡防计划")
        _click_and_wait(cmd, f"{_key('plan_go')} button", f"{_key('plan_approve')} button", SOLVE_MS)
        assert cmd.page.locator("[data-testid='stException']").count() == 0
        (draft,) = lifecycle.list_plans(engine)[:1]
        month = draft.month
        assert draft.status == "draft" and lifecycle.approved_plan_id(engine, month) is None
        first_doc = lifecycle.load_document(engine, draft.plan_id)

        # ---------------------------------------------------------------- edit: suppress one patrol point
        cmd.page.get_by_text("其他调整：民警请假、停用或增加巡逻点").click()
        # A point of another hospital than the demo officer's, visited in the draft.
        me = get_user(engine, "demo_officer")
        visited = {v["point_id"] for v in first_doc["visits"]}
        target = next(p for p in first_doc["points"] if p["hospital_id"] != me.hospital_id and p["point_id"] in visited)
        suppressed = target["point_id"]
        _choose(cmd, "plan_suppress", f"{names[target['hospital_id']]} {target['name']}")
        cmd.page.wait_for_selector(f"{_key('plan_replan')} button:has-text('1 项')", timeout=180_000)
        _wait_idle(cmd)
        why = cmd.page.locator(f"{_key('plan_why')} input")
        why.fill("该出入口施工封闭")
        why.press("Enter")
        replan_btn = f"{_key('plan_replan')} button:has-text('1 项')"
        cmd.page.wait_for_selector(f"{replan_btn}:not([disabled])", timeout=60_000)
        _click_and_wait(cmd, replan_btn, "text=/由方案\\d+调整而来/", SOLVE_MS)
        assert cmd.page.locator("[data-testid='stException']").count() == 0
        edited = lifecycle.list_plans(engine, month=month)[0]
        assert edited.parent_id == draft.plan_id and edited.status == "draft"
        edits = plan_edits(engine, draft.plan_id)
        assert list(edits["kind"]) == ["point_suppress"] and list(edits["note"]) == ["该出入口施工封闭"]
        doc = lifecycle.load_document(engine, edited.plan_id)
        assert check_plan(doc) == []  # the independent checker, after the edit
        assert not any(v["point_id"] == suppressed for v in doc["visits"]), "the suppressed point is still visited"

        # ---------------------------------------------------------------- approve
        _click_and_wait(cmd, f"{_key('plan_approve')} button", "text=已批准并存档")
        assert lifecycle.approved_plan_id(engine, month) == edited.plan_id
        audit = list_entries(engine)
        assert any(e.action == "plan_approve" and f"方案{edited.plan_id}" in e.detail for e in audit.itertuples())
        assert any(e.action == "plan_edit" for e in audit.itertuples())
        _shoot(cmd, "1_plan_approved")

        # ---------------------------------------------------------------- officer: own calendar
        mine = [v for v in doc["visits"] if v["officer_id"] == me.officer_id]
        assert mine, "the demo officer has visits in the approved plan"
        _sign_in(off, server, "驻院民警")
        sidebar = off.page.inner_text("[data-testid='stSidebar']")
        assert names[me.hospital_id] in sidebar and me.hospital_id not in sidebar  # the hospital by name
        _open(off, "巡防计划")
        cal = icalendar.Calendar.from_ical(_download(off, f"{_key('plan_my_ics')} button"))
        events = [e for e in cal.walk("VEVENT") if str(e["SUMMARY"]).startswith("巡逻")]
        got = {str(e["UID"]).split("-", 1)[0]: e.decoded("DTSTART") for e in events}
        assert set(got) == {v["visit_id"] for v in mine}
        for v in mine:
            assert got[v["visit_id"]] == pd.Timestamp(v["start"]).to_pydatetime()
        _shoot(off, "2_officer_plan")

        # ---------------------------------------------------------------- officer: 今日任务 and check-ins
        by_day = pd.Series([v["start"][:10] for v in mine]).value_counts()
        day = sorted(d for d in by_day[by_day >= 2].index if int(d[8:]) <= 20)[0]
        todays = sorted((v for v in mine if v["start"].startswith(day)), key=lambda v: v["start"])
        done_v, missed_v = todays[0], todays[1]
        _open(off, "今日任务")
        # Pick the day in the calendar pop-up (typed segments reach the server only on some blurs).
        off.page.locator(f"{_key('today_day')} [data-testid='stDateInputCalendarButton']").click()
        dialog = off.page.locator("[role='dialog']")
        shown = lifecycle.today()
        target = pd.Timestamp(day)
        for _ in range((shown.year - target.year) * 12 + shown.month - target.month):
            dialog.get_by_role("button", name="Previous month").click()
        dialog.locator(f"[role=gridcell]:not([aria-disabled]) >> text='{target.day}'").first.click()
        off.page.wait_for_selector(_key(f"ck_status_{done_v['visit_id']}"), timeout=180_000)
        _wait_idle(off)
        text = off.page.inner_text("[data-testid='stMain']")
        point = {p["point_id"]: p["name"] for p in doc["points"]}
        assert f"{done_v['start'][11:16]}–{done_v['end'][11:16]}　{point[done_v['point_id']]}" in text
        assert not re.search(r"\bbj\d{3}\b", text), "a raw hospital id on 今日任务"
        _shoot(off, "3_today_before")

        # One visit done: three people warned away.
        form = off.page.locator("[data-testid='stForm']").filter(has=off.page.locator(_key(f"ck_status_{done_v['visit_id']}")))
        _fill_number(off, f"ck_warn_{done_v['visit_id']}", 3)
        form.get_by_role("button", name="签到").click()
        off.page.wait_for_selector(_key(f"ck_status_{done_v['visit_id']}"), state="detached", timeout=180_000)
        _wait_idle(off)
        # One visit missed: handling an incident.
        form = off.page.locator("[data-testid='stForm']").filter(
            has=off.page.locator(_key(f"ck_status_{missed_v['visit_id']}")))
        form.locator(_key(f"ck_status_{missed_v['visit_id']}")).get_by_text("未完成", exact=True).click()
        _choose(off, f"ck_reason_{missed_v['visit_id']}", "处置警情")
        form.get_by_role("button", name="签到").click()
        off.page.wait_for_selector(_key(f"ck_status_{missed_v['visit_id']}"), state="detached", timeout=180_000)
        _wait_idle(off)
        text = off.page.inner_text("[data-testid='stMain']")
        assert "状态：已完成" in text and "状态：未完成" in text
        _shoot(off, "4_today_checked_in")

        # ---------------------------------------------------------------- commander: an action's results
        act = sorted(doc["actions"], key=lambda a: a["start"])[0]
        _open(cmd, "成效评估")
        _choose(cmd, "ev_month", month)
        cmd.page.wait_for_selector(f"{_key('ev_res_act')}", timeout=180_000)
        _wait_idle(cmd)
        _choose(cmd, "ev_res_act", f"{names[act['hospital_id']]} {act['date']}")
        _fill_number(cmd, "ev_res_persons_checked", 37)
        _fill_number(cmd, "ev_res_scalpers_caught", 4)
        _fill_number(cmd, "ev_res_total", act["officers"])
        _click_and_wait(cmd, f"[data-testid='stForm']:has({_key('ev_res_act')}) button:has-text('登记成果')",
                        "text=的行动成果")
        assert cmd.page.locator("[data-testid='stException']").count() == 0

        # ---------------------------------------------------------------- the reports show exactly those
        # A rerun (building the XLSX) redraws the statistics with the new entries.
        _click_and_wait(cmd, f"{_key('ev_mk_xlsx')} button", f"{_key('ev_xlsx_dl')} button")
        due = len(doc["visits"])  # the month is past: every visit of the plan is due
        expected = {"集中行动（次）": 1, "行动警力（人次）": act["officers"], "完成巡查（次）": 1, "未完成巡查（次）": 1,
                    "盘查人员（人）": 37, "抓获号贩子（人）": 4, "抓获医托（人）": 0, "劝离（人）": 3, "移交案件（起）": 0}
        csv = pd.read_csv(io.BytesIO(_download(cmd, f"{_key('ev_dl')} button")), encoding="utf-8-sig")
        rows = csv.set_index("医院")
        assert rows.loc["合计", list(expected)].to_dict() == expected
        assert rows.loc[names[act["hospital_id"]], "抓获号贩子（人）"] == 4
        assert rows.loc[names[me.hospital_id], "完成巡查（次）"] == 1
        assert rows.loc[names[me.hospital_id], "未完成巡查（次）"] == 1
        others = rows.drop(index=["合计", names[act["hospital_id"]], names[me.hospital_id]])
        assert (others[list(expected)] == 0).all().all(), "entries nobody made"

        wb = openpyxl.load_workbook(io.BytesIO(_download(cmd, f"{_key('ev_xlsx_dl')} button")))
        ws = wb.active
        heads = [c.value for c in ws[4]]
        total = next(r for r in ws.iter_rows(min_row=5, values_only=True) if r[1] == "合计")
        xlsx = dict(zip(heads[2:], total[2:], strict=False))
        assert {k: xlsx[k.replace("行动警力", "投入警力")] for k in expected} == expected
        assert xlsx["计划巡查（次）"] == due and xlsx["巡查完成率"] == f"{1 / due:.1%}"

        cmd.page.get_by_text(f"月度通报预览（{month}）").click()
        _click_and_wait(cmd, f"{_key('ev_mk_bull')} button", f"{_key('ev_bull_dl')} button")
        text = cmd.page.inner_text("[data-testid='stMain']")
        action_line = (f"开展集中行动1次，投入警力{act['officers']}人次，盘查37人，抓获号贩子4人、医托0人，劝离0人，"
                       "移交案件0起。")
        patrol_line = f"驻院民警到期计划巡查{due}次，完成1次，未完成1次，未上报{due - 2}次"
        assert action_line in text and patrol_line in text
        pdf = PdfReader(io.BytesIO(_download(cmd, f"{_key('ev_bull_dl')} button")))
        assert len(pdf.pages) == 1
        pdf_text = re.sub(r"\s+", "", pdf.pages[0].extract_text())
        assert action_line in pdf_text and patrol_line in pdf_text
        _shoot(cmd, "5_reports")

        assert cmd.external == [] and off.external == [], (cmd.external, off.external)
        assert cmd.errors == [] and off.errors == [], (cmd.errors, off.errors)
    except Exception:
        for who, b in (("commander", cmd), ("officer", off)):
            ARTIFACTS.mkdir(exist_ok=True)
            try:  # evidence only: a page that never opened must not hide the original error
                b.page.screenshot(path=str(ARTIFACTS / f"loop_failed_{who}.png"), full_page=True, timeout=10_000)
                print(who, b.page.inner_text("[data-testid='stMain']", timeout=5_000)[:1500])
            except Exception as exc:
                print(who, "no page to record:", exc)
        raise
    finally:
        cmd.close()
        off.close()
