"""Hostile data in a real browser (issue 11): hospital names carrying Markdown/HTML cause no request to another
host and inject no element; the session is carried by an HttpOnly cookie and survives a reload.

The server is started the deployed way, ``python -m dashboard.serve`` (browser-bound sessions).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, Browser, _free_port, stop_server
from tests.test_hostile_input import HOSTILE

pytestmark = pytest.mark.browser


def _start_serve(db_url: str, var_dir, log_path) -> tuple[subprocess.Popen, str]:
    """Start ``python -m dashboard.serve``; its output goes to ``log_path``.

    Not to a pipe: nobody reads a pipe while the test runs, and uvicorn logs every request (each static file of
    a page load), so after about 64 KiB the pipe is full, the server blocks in its next log write and the page
    keeps its loading placeholders forever (this was the "timeout on a loaded machine").
    """
    port = _free_port()
    env = {**os.environ, "HOSPITAL_HOTSPOTS_DB": db_url, "HOSPITAL_HOTSPOTS_VAR": str(var_dir)}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dashboard.serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(Path(log_path).read_text(errors="replace")[-2000:])
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
            if r.read().strip() == b"ok":
                return proc, base
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("dashboard.serve did not become healthy in time")


@pytest.fixture(scope="module")
def hostile_server(demo_db_url, tmp_path_factory):
    from sqlalchemy import select, update

    from core.db.schema import Hospital
    from tests._planning_store import copy_store

    if not demo_db_url.startswith("sqlite"):
        pytest.skip("one store is enough for the browser check")
    d = tmp_path_factory.mktemp("hostile-browser")
    engine = copy_store(demo_db_url, f"sqlite:///{d / 'store.sqlite'}")
    with engine.begin() as conn:
        ids = list(conn.execute(select(Hospital.id).order_by(Hospital.id)).scalars())
        for hid, name in zip(ids, HOSTILE * 5, strict=False):
            conn.execute(update(Hospital).where(Hospital.id == hid).values(name=name[:100]))
    engine.dispose()
    proc, base = _start_serve(str(engine.url), d / "var", d / "serve.log")
    yield base
    stop_server(proc)


INJECTED = "a[href*='evil'], img[src*='evil'], script[src*='evil'], b:text('加粗'), font, iframe[src*='evil']"


def test_hostile_names_are_inert_and_the_session_lives_in_an_httponly_cookie(hostile_server, playwright_instance):
    b = Browser(playwright_instance)
    try:
        p = b.page
        p.goto(hostile_server)
        b.wait_idle()
        try:
            p.get_by_role("button", name="指挥员").click(timeout=120_000)
        except Exception:
            raise AssertionError(p.inner_text("body")[:800]) from None
        b.wait_idle()
        # st.link_button opens the exchange in a new tab; that tab gets the cookie and the signed-in app.
        with b.context.expect_page() as new_tab:
            p.get_by_role("link", name="进入系统").click()
        p = b.page = new_tab.value
        b.wait_idle()
        try:
            p.wait_for_selector("[data-testid='stSidebarNav'] a", timeout=60_000)
        except Exception:
            p.screenshot(path=str(ROOT / "test-artifacts" / "hostile_browser_fail.png"))
            raise AssertionError(p.inner_text("body")[:1500]) from None
        cookies = {c["name"]: c for c in b.context.cookies()}
        assert cookies["hh_session"]["httpOnly"] and cookies["hh_session"]["sameSite"] == "Strict"
        assert not p.evaluate("document.cookie").count("hh_session")  # scripts cannot read it
        p.reload()  # a reload (a new Streamlit session) keeps the signed-in session
        b.wait_idle()
        p.wait_for_selector("[data-testid='stSidebarNav'] a", timeout=60_000)
        assert p.get_by_role("button", name="退出登录").count() == 1
        for title in ("总览", "警情地图", "热点研判", "重点医院", "会商大屏"):
            link = p.locator("[data-testid='stSidebarNav'] a", has_text=title).first
            assert link.count() == 1, title
            link.click()
            b.wait_idle()
            time.sleep(1.0)
            found = p.locator(INJECTED)
            assert found.count() == 0, (title, [found.nth(i).evaluate("e => e.outerHTML")[:300]
                                                for i in range(min(found.count(), 3))])
        assert b.external == [], b.external
    finally:
        b.close()


def _sign_in(b: Browser, base: str, role_label: str):
    """Sign ``b`` in with the one-click demo account ``role_label``; returns the signed-in page."""
    p = b.page
    p.goto(base)
    b.wait_idle()
    p.get_by_role("button", name=role_label).click(timeout=120_000)
    b.wait_idle()
    with b.context.expect_page() as new_tab:
        p.get_by_role("link", name="进入系统").click()
    p = b.page = new_tab.value
    b.wait_idle()
    p.wait_for_selector("[data-testid='stSidebarNav'] a", timeout=60_000)
    return p


def test_a_download_is_served_only_to_the_browser_session_that_made_it(hostile_server, playwright_instance):
    """Under ``dashboard.serve``: the commander's export URL gives another signed-in user 404, nobody 403."""
    a, other = Browser(playwright_instance), Browser(playwright_instance)
    try:
        p = _sign_in(a, hostile_server, "指挥员")
        p.locator("[data-testid='stSidebarNav'] a", has_text="成效评估").first.click()
        a.wait_idle()
        button = p.locator("[data-testid='stDownloadButton'] button").first
        button.wait_for(timeout=60_000)
        with p.expect_download() as dl:
            button.click()
        url = dl.value.url
        assert "/media/" in url, url
        mine = a.context.request.get(url)
        assert mine.status == 200 and len(mine.body()) > 0
        _sign_in(other, hostile_server, "卫健联络员")
        assert other.context.request.get(url).status == 404  # a live session, but not the one that made it
        anonymous = playwright_instance.request.new_context()
        try:
            assert anonymous.get(url).status == 403
        finally:
            anonymous.dispose()
    finally:
        a.close()
        other.close()
