"""No verdict on an action whose after-window is still open, in a real Chromium (issue 12).

On a private copy of the demo store, plans are generated and approved through the planning API for the
last complete month of data and for the month after it. The demo's data end before those actions' 28-day
after-windows do, so on 成效评估 and on 会商大屏 every one of those actions must read 待评估（观察期至 …）,
with no after-figures and no 显著下降 / 显著上升 / 无显著变化 and no weighted displacement difference.

The expected states are worked out here from the stored plan and the store's last day, not read from
``planning.outcomes``. The tests wait for states (script idle, the table holding the month's dates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.browser.conftest import CHROMIUM, Browser, start_server, stop_server
from tests.conftest import copy_store

pytestmark = pytest.mark.browser

#: The default before/after window of 成效评估 (days) and the verdict words that must not appear.
WINDOW_DAYS = 28
VERDICTS = ("显著下降", "显著上升", "无显著变化")

_ROWS = """(sel) => [...document.querySelectorAll(sel)].map(t =>
    [...t.querySelectorAll('tr')].map(tr => [...tr.children].map(c => c.innerText.trim())))"""


@dataclass(frozen=True)
class Action:
    hospital: str  # display name
    day: dt.date
    open: bool

    @property
    def pending(self) -> str:
        return f"待评估（观察期至 {self.day + dt.timedelta(days=WINDOW_DAYS):%Y-%m-%d}）"


def _months(last: dt.date, today: dt.date) -> tuple[str, str]:
    """(last complete month, the month after it) of data ending on ``last``."""
    through = last if last < today else last - dt.timedelta(days=1)  # the running day is not complete
    nxt = through + dt.timedelta(days=1)
    done = pd.Period(through, "M") if nxt.month != through.month else pd.Period(through, "M") - 1
    return str(done), str(done + 1)


@pytest.fixture(scope="module")
def planned(demo_db_url, tmp_path_factory):
    """A server on a demo copy with approved plans for the last complete month and the next one."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium not installed at {CHROMIUM}")
    from sqlalchemy import func, select

    from core import settings
    from core.db import Incident, get_engine, load_hospitals
    from core.trust.access import scope_for_role
    from planning.lifecycle import approve_plan, save_draft
    from planning.plan import make_plan

    url = copy_store(demo_db_url, tmp_path_factory.mktemp("verdicts"))
    engine = get_engine(url)
    with engine.connect() as conn:
        latest = pd.Timestamp(conn.execute(select(func.max(Incident.__table__.c.received_at))).scalar_one())
    latest = latest.tz_localize("UTC") if latest.tzinfo is None else latest
    last = latest.tz_convert(settings.TIMEZONE).date()
    today = pd.Timestamp.now(tz=settings.TIMEZONE).date()
    done, nxt = _months(last, today)
    names = dict(zip(*load_hospitals(engine)[["hospital_id", "name"]].T.to_numpy(), strict=True))
    commander = scope_for_role("commander", username="verdict_test")
    actions: dict[str, list[Action]] = {}
    for month in (done, nxt):
        plan = make_plan(engine, month=month, seed=5)
        approve_plan(engine, save_draft(engine, plan, username="verdict_test"), scope=commander)
        days = pd.to_datetime(plan.actions["start"]).dt.tz_convert(settings.TIMEZONE).dt.date
        actions[month] = [
            # Measurable once the whole after-window (the 28 days after the action day) is in the data and past.
            Action(names[h], d, open=d + dt.timedelta(days=WINDOW_DAYS) > min(last, today - dt.timedelta(days=1)))
            for h, d in zip(plan.actions["hospital_id"], days, strict=True)
        ]
    assert all(a.open for month in actions.values() for a in month), "premise: the windows are still open"
    proc, base = start_server(url)
    yield base, done, nxt, actions
    stop_server(proc)


def _wait_idle(b: Browser, timeout: float = 180_000) -> None:
    b.wait_idle(timeout=timeout)


def _sign_in_and_open(b: Browser, base: str, title: str) -> None:
    b.page.goto(base)
    _wait_idle(b)
    b.page.get_by_role("button", name="指挥员").click()
    b.page.wait_for_selector("[data-testid='stSidebarNav'] a", timeout=180_000)
    _wait_idle(b)
    b.page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    b.page.wait_for_selector(f"h1:has-text('{title}')", timeout=180_000)
    _wait_idle(b)
    assert b.page.locator("[data-testid='stException']").count() == 0, f"{title}: exception shown"


def _evaluation_rows(b: Browser, month: str) -> list[dict[str, str]]:
    """Rows of the before/after table once it shows actions of ``month`` (column name -> cell text)."""
    b.page.wait_for_function(
        "(m) => [...document.querySelectorAll('[data-testid=stDataFrame] table')]"
        ".some(t => t.innerText.includes('结论') && [...t.querySelectorAll('tr')]"
        ".some(tr => tr.children.length > 1 && tr.children[1].innerText.trim().startsWith(m + '-')))",
        arg=month, timeout=180_000, polling=200,
    )
    tables = [t for t in b.page.evaluate(_ROWS, "[data-testid=stDataFrame] table") if t and "结论" in t[0]]
    head, *body = tables[0]
    return [row for r in body if r and (row := dict(zip(head, r, strict=False))).get("行动日期", "").startswith(month)]


def _check_evaluation(rows: list[dict[str, str]], expected: list[Action]) -> None:
    seen = {(r["医院"], r["行动日期"]): r for r in rows}
    for a in expected:
        row = seen.get((a.hospital, f"{a.day:%Y-%m-%d}"))
        assert row is not None, f"action {a} missing from 成效评估: {sorted(seen)}"
        assert row["结论"] == a.pending, row
        for col in ("行动后（本院）", "行动后（缓冲区）", "行动后（对照均值）", "加权位移差", "z 值", "p 值", "加权位移商"):
            assert row[col] == "—", f"{a.hospital} {a.day}: {col} = {row[col]!r} while the window is open"


def test_evaluation_shows_pending_not_verdicts(planned, playwright_instance):
    base, done, nxt, actions = planned
    b = Browser(playwright_instance, width=1920, height=1080)
    try:
        _sign_in_and_open(b, base, "成效评估")
        # The page opens on the last complete month.
        _check_evaluation(_evaluation_rows(b, done), actions[done])
        main = b.page.inner_text("[data-testid='stMain']")
        assert not [w for w in VERDICTS if w in main], "a verdict is shown for actions still being observed"
        # The month being carried out.
        b.page.locator("[data-testid='stSelectbox']").filter(has_text="行动月份").click()
        b.page.get_by_role("option", name=nxt, exact=True).click()
        _check_evaluation(_evaluation_rows(b, nxt), actions[nxt])
        _wait_idle(b)
        main = b.page.inner_text("[data-testid='stMain']")
        assert not [w for w in VERDICTS if w in main], "a verdict is shown for actions still being observed"
        assert b.external == [], b.external
    finally:
        b.close()


def test_meeting_screen_shows_pending_not_verdicts(planned, playwright_instance):
    base, done, _nxt, actions = planned
    b = Browser(playwright_instance, width=1920, height=1080)
    try:
        _sign_in_and_open(b, base, "会商大屏")
        tables = [t for t in b.page.evaluate(_ROWS, "table.hh-table") if t and t[0][:1] == ["医院"] and "结论" in t[0]]
        assert tables, "no 集中行动成效 table on 会商大屏"
        head, *body = tables[0]
        rows = [dict(zip(head, r, strict=False)) for r in body if len(r) == len(head)]
        assert rows, "the approved actions are not on 会商大屏"
        expected = {(a.hospital, a.pending) for a in actions[done]}
        for r in rows:
            assert (r["医院"], r["结论"]) in expected, f"{r} is not a pending action of {done}"
            assert r["行动前→后"].endswith("→待评估"), r
        main = b.page.inner_text("[data-testid='stMain']")
        assert not [w for w in ("显著下降", "显著上升") if w in main], "a verdict is shown on 会商大屏"
        assert b.external == [], b.external
    finally:
        b.close()
