"""The dashboard in a real Chromium: every page loads offline, maps draw, Chinese renders, meeting screenshot."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.browser.conftest import ARTIFACTS, Browser

pytestmark = pytest.mark.browser

COMMANDER_PAGES = ["总览", "警情地图", "热点研判", "重点医院", "巡防计划", "成效评估", "会商大屏"]


def _map_frame(page):
    """The st_folium iframe's frame once Leaflet has drawn into it."""
    page.wait_for_selector("iframe[title*='st_folium']", timeout=60_000)
    handle = page.wait_for_selector("iframe[title*='st_folium']", timeout=60_000)
    frame = handle.content_frame()
    assert frame is not None, "st_folium iframe has no frame"
    frame.wait_for_selector(".leaflet-container", timeout=120_000)
    return frame


@pytest.fixture(scope="module")
def session(server, playwright_instance):
    b = Browser(playwright_instance)
    b.page.goto(server)
    b.wait_idle()
    b.page.get_by_role("button", name="指挥员").click()
    # Signed in once the navigation is there (an idle state alone may be seen before the rerun starts).
    b.page.wait_for_selector("[data-testid='stSidebarNav'] a", timeout=180_000)
    b.wait_idle()
    yield b
    b.close()


def _open(b: Browser, title: str) -> None:
    b.page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    b.page.wait_for_selector(f"h1:has-text('{title[:2]}')", timeout=180_000)
    b.wait_idle()
    assert b.page.locator("[data-testid='stException']").count() == 0, f"{title}: exception shown"


def test_cjk_font_installed():
    fc = shutil.which("fc-list")
    assert fc, "fontconfig missing"
    out = subprocess.run([fc, ":lang=zh", "family"], capture_output=True, text=True, check=True).stdout
    assert out.strip(), "no CJK font: Chinese would render as boxes (apt-get install fonts-noto-cjk)"


def test_every_page_loads_offline(session):
    b = session
    nav = b.page.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
    for title in COMMANDER_PAGES[:-1]:
        assert any(title in t for t in nav), f"{title} missing from navigation {nav}"
        _open(b, title)
        assert b.page.get_by_text("演示数据（合成，非真实警情）").first.is_visible(), f"{title}: no demo banner"
    assert b.external == [], f"requests to external hosts: {b.external}"
    assert b.errors == [], f"console errors: {b.errors}"


def test_incident_map_draws_from_local_assets(session):
    b = session
    _open(b, "警情地图")
    frame = _map_frame(b.page)
    frame.wait_for_selector(".leaflet-overlay-pane canvas", timeout=60_000)
    frame.wait_for_selector(".leaflet-marker-icon", timeout=60_000)
    drawn = frame.evaluate(
        """() => ({
            canvas: document.querySelectorAll('.leaflet-overlay-pane canvas').length,
            markers: document.querySelectorAll('.leaflet-marker-icon').length,
            scripts: [...document.querySelectorAll('script[src], link[href]')].map(e => e.src || e.href),
        })"""
    )
    assert drawn["canvas"] >= 1, drawn  # district outlines, hospitals, heat map
    assert drawn["markers"] >= 1, drawn  # clustered incidents
    assert all("127.0.0.1" in u or "localhost" in u for u in drawn["scripts"]), drawn["scripts"]
    # The default marker icons come from the vendored images (imagePath set explicitly).
    icons = frame.evaluate("() => [...document.querySelectorAll('img.leaflet-marker-icon')].map(i => i.src)")
    assert all("/app/static/leaflet/images/" in u for u in icons), icons[:3]
    assert b.external == [], b.external
    assert b.errors == [], b.errors


def test_meeting_screen_screenshot(server, playwright_instance):
    b = Browser(playwright_instance, width=1920, height=1080)
    try:
        b.page.goto(server)
        b.wait_idle()
        b.page.get_by_role("button", name="指挥员").click()
        b.page.wait_for_selector("[data-testid='stSidebarNav'] a", timeout=180_000)
        b.wait_idle()
        _open(b, "会商大屏")
        _map_frame(b.page).wait_for_selector(".leaflet-overlay-pane canvas", timeout=60_000)
        assert not b.page.locator("[data-testid='stSidebar']").is_visible(), "sidebar shown on the meeting screen"
        title = b.page.locator("h1", has_text="会商大屏")
        assert title.bounding_box()["height"] >= 40  # large type
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / "meeting_screen_1920x1080.png"
        b.page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 50_000
        assert b.external == [], b.external
        assert b.errors == [], b.errors
    finally:
        b.close()
