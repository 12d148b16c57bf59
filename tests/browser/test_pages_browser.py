"""Every page in a real Chromium at 1920×1080: Chinese text only, trends honest, the meeting screen without
scrolling at 1920×1080 and 3840×2160, a screenshot of every page kept in test-artifacts/.

The tests wait for states (the app connected, no script running, the map drawn), never for fixed
times, so they pass on a loaded machine.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.browser.conftest import ARTIFACTS, Browser

pytestmark = pytest.mark.browser

#: (role button, page titles) — every page of the registry, each under a role that may open it.
ROLE_PAGES = [
    ("指挥员", ["总览", "警情地图", "热点研判", "重点医院"]),
    ("管理员", ["数据导入"]),
    ("指挥员", ["巡防计划", "成效评估", "重点人员"]),
    ("驻院民警", ["今日任务"]),
    ("管理员", ["系统管理"]),
]
KEYS = {"总览": "overview", "警情地图": "map", "热点研判": "analysis", "重点医院": "hospitals", "巡防计划": "plan",
        "成效评估": "evaluation", "数据导入": "import", "系统管理": "admin", "会商大屏": "screen",
        "重点人员": "persons", "今日任务": "today"}
#: Latin words allowed on screen: product and method names, file formats, coordinate systems.
ALLOWED = {
    "Leaflet", "Gi", "PAI", "PEI", "CSV", "XLSX", "TXT", "PDF", "ICS", "JSON", "GeoJSON", "WGS", "GCJ", "BD", "GPS",
    "MB", "SHA", "Skip", "to", "main", "content",  # the screen-reader skip link Streamlit adds (invisible)
}
WORD = re.compile(r"[A-Za-z][A-Za-z]+")

# Visible text of a document: its inner text, the placeholders of its inputs (a multiselect's "Choose options",
# a date box's format) and the hover titles. Streamlit's Material icons are ligature words
# (keyboard_arrow_right ...), drawn as symbols; they are dropped before looking for English. So is the
# screen-reader announcer of Streamlit's lists ("0 options available."): clipped to nothing, never on screen.
_TEXT = """() => {
    let text = document.body.innerText;
    for (const e of document.querySelectorAll('[data-live-announcer]')) { text = text.replace(e.innerText, ''); }
    const icons = new Set([...document.querySelectorAll('[data-testid=stIconMaterial]')].map(e => e.innerText));
    const placeholders = [...document.querySelectorAll('input[placeholder], textarea[placeholder]')]
        .map(e => e.getAttribute('placeholder'));
    const titles = [...document.querySelectorAll('[title]')].filter(e => e.tagName !== 'IFRAME')
        .map(e => e.getAttribute('title'));
    return {text: [text, ...placeholders, ...titles].join('\\n'), icons: [...icons]};
}"""


def _wait_idle(b: Browser, timeout: float = 180_000) -> None:
    # A click starts a rerun a moment later; callers also wait for what the rerun shows (a heading).
    b.wait_idle(timeout)


def _sign_in(b: Browser, server: str, role: str) -> None:
    b.page.goto(server)
    _wait_idle(b)
    b.page.get_by_role("button", name=role).click()
    b.page.wait_for_selector("[data-testid='stSidebarNav'] a", timeout=180_000)
    _wait_idle(b)


def _open(b: Browser, title: str) -> None:
    b.page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    b.page.wait_for_selector(f"h1:has-text('{title}')", timeout=180_000)
    _wait_idle(b)
    assert b.page.locator("[data-testid='stException']").count() == 0, f"{title}: exception shown"


def _english(b: Browser) -> set[str]:
    """Latin words on the page and in its frames (the maps' legends, scale and attribution), and in the list a
    multiselect opens (Streamlit's own "Select all", "No results")."""
    words: set[str] = set()
    for frame in b.page.frames:  # the page itself first, then each component frame (maps)
        got = frame.evaluate(_TEXT)
        icons = {w for t in got["icons"] for w in WORD.findall(t)}
        words |= set(WORD.findall(got["text"].replace("None", " None "))) - icons
    selects = b.page.locator("[data-testid='stMultiSelect']")
    for i in range(selects.count()):
        widget = selects.nth(i)
        box = widget.locator("[role='combobox']").first
        if not box.is_visible() or not box.is_enabled():  # in a closed expander, or disabled
            continue
        listbox = b.page.locator("[role='listbox']").first
        for attempt in range(3):  # a click during a rerun or an expander's opening can leave the list closed
            box.click()
            try:
                listbox.wait_for(timeout=10_000)
                break
            except Exception:
                if attempt == 2:
                    raise AssertionError(f"the list of {widget.inner_text()[:40]!r} did not open") from None
                b.page.keyboard.press("Escape")
                _wait_idle(b)
        words |= set(WORD.findall(listbox.inner_text()))
        b.page.keyboard.press("Escape")
        listbox.wait_for(state="detached", timeout=30_000)
    return words - ALLOWED


def _maps_drawn(b: Browser) -> None:
    """Wait until every st_folium frame on the page holds a drawn Leaflet map."""
    n = b.page.locator("iframe[title='streamlit_folium.st_folium']").count()
    for i in range(n):
        frame = b.page.frame_locator("iframe[title='streamlit_folium.st_folium']").nth(i)
        frame.locator(".leaflet-container").first.wait_for(timeout=120_000)


def _shoot(b: Browser, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    b.page.screenshot(path=str(ARTIFACTS / f"{name}_1920x1080.png"))
    # The whole page as well: Streamlit scrolls inside its main block, so grow the viewport to it.
    height = b.page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    b.page.set_viewport_size({"width": 1920, "height": min(int(height) + 40, 8000)})
    b.page.screenshot(path=str(ARTIFACTS / f"{name}_1920_full.png"))
    b.page.set_viewport_size({"width": 1920, "height": 1080})


@pytest.mark.parametrize(("role", "titles"), ROLE_PAGES, ids=["commander", "import", "plan-evaluation-persons", "today", "admin"])
def test_every_page_chinese_and_screenshot(server, playwright_instance, role, titles):
    b = Browser(playwright_instance, width=1920, height=1080)
    try:
        _sign_in(b, server, role)
        problems = {}
        for title in titles:
            _open(b, title)
            _maps_drawn(b)
            words = _english(b)
            if words:
                problems[title] = sorted(words)
            _shoot(b, KEYS[title])
        assert problems == {}, f"English or None on screen: {problems}"
        assert b.external == [], b.external
        assert b.errors == [], b.errors
    finally:
        b.close()


def test_trends_end_on_complete_periods_or_say_so(server, playwright_instance):
    """The monthly trend of the hospital profile and of the overview either end on a complete month or label it."""
    b = Browser(playwright_instance, width=1920, height=1080)
    try:
        _sign_in(b, server, "指挥员")
        for title in ("总览", "警情地图"):
            _open(b, title)
            text = b.page.inner_text("[data-testid='stMain']")
            assert "数据范围：" in text, f"{title}: no data window stated"
            months = sorted({(int(y), int(m)) for y, m in re.findall(r"^(\d{4})年(\d{1,2})月$", text, re.M)})
            assert months, f"{title}: no Chinese month axis"
            # Every point drawn apart carries its cut-off ("本月至今（截至12月1日），不完整").
            labels = [line for line in text.splitlines() if line.endswith("，不完整")]
            for line in labels:
                assert re.match(r"^(本月至今（截至\d+月\d+日）|截至\d+月\d+日|自\d+月\d+日起)，不完整$", line), line
            # The newest month on the axis is complete (the data end on 31 October here) or labelled.
            caption = next(line for line in text.splitlines() if line.startswith("数据范围："))
            y, m, d = (int(v) for v in re.search(r"至(\d{4})年(\d+)月(\d+)日", caption).groups())
            last_day_of_month = (dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)).day
            if months[-1] == (y, m) and d < last_day_of_month:
                assert labels, f"{title}: the running month {y}-{m} is drawn without a label"
    finally:
        b.close()


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_meeting_screen_fits_without_scrolling(server, playwright_instance, width, height):
    b = Browser(playwright_instance, width=width, height=height)
    try:
        _sign_in(b, server, "指挥员")
        _open(b, "会商大屏")
        _maps_drawn(b)
        size = b.page.evaluate(
            """() => {
                const main = document.querySelector('[data-testid=stMain]');
                const blocks = [...document.querySelectorAll('[data-testid=stMainBlockContainer] *')];
                const bottom = Math.max(...blocks.map(e => e.getBoundingClientRect().bottom));
                return {scroll: main.scrollHeight, client: main.clientHeight, doc: document.documentElement.scrollHeight,
                        inner: window.innerHeight, bottom: bottom, widthScroll: document.documentElement.scrollWidth,
                        title: parseFloat(getComputedStyle(document.querySelector('h1')).fontSize),
                        // Light blocks (a white table, a white panel); a switch's knob is not a block.
                        light: [...document.querySelectorAll('[data-testid=stMainBlockContainer] *')].filter(e => {
                            if (e.getBoundingClientRect().width < 24) return false;
                            const c = getComputedStyle(e).backgroundColor.match(/\\d+/g);
                            return c && c.length >= 3 && (c.length < 4 || +c[3] > 0) && (+c[0] + +c[1] + +c[2]) > 600;
                        }).map(e => e.getAttribute('data-testid') || e.tagName).slice(0, 5)};
            }"""
        )
        assert size["scroll"] <= size["client"] + 1, size
        assert size["doc"] <= size["inner"] + 1, size
        assert size["bottom"] <= height + 1, size
        assert size["widthScroll"] <= width + 1, size
        assert size["title"] >= 0.03 * height, size  # type scales with the screen
        assert size["light"] == [], f"light elements on the dark screen: {size['light']}"
        assert not b.page.locator("[data-testid='stSidebar']").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        b.page.screenshot(path=str(ARTIFACTS / f"screen_{width}x{height}.png"))
        assert b.external == [], b.external
        assert b.errors == [], b.errors
    finally:
        b.close()
