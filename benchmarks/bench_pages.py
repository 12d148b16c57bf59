"""What a user feels: page timings in a real Chromium against a running dashboard (medians and p95).

Measures, on a store (default: a fresh synthetic demo ending on the current day):

* first page after sign-in (click on the demo account until 总览 is drawn),
* page switch (each page in turn, from a click in the navigation until the script is idle),
* filter change (警情地图 radius and hours sliders),
* every 热点研判 panel (the page itself, 新兴热点, 回测).

Each figure is repeated ``--repeat`` times in fresh browser sessions on one server. By default the
first session starts once the server has done its start-up work (it logs ``dashboard ready``); with
``--no-wait-ready`` it starts at once, as for the first user after a restart. The first session's
figures are printed as "cold", the median and p95 over the later sessions as "warm". Targets
(issue 12): on the demo, first page ≤ 3 s, page switch ≤ 1.5 s, filter change ≤ 1 s, each 热点研判
panel ≤ 3 s; with 1,000,000 incidents (``--scale 19``), first page ≤ 5 s, filter change ≤ 1.5 s.

The browser does not intercept requests here (the tests do, to prove nothing leaves the host): a
user's browser fetches the page's files directly.

Usage::

    python benchmarks/bench_pages.py [--db sqlite:///var/demo.sqlite] [--repeat 3] [--scale 1.0] [--no-wait-ready]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import Browser, start_server, stop_server  # noqa: E402

PAGES = ["警情地图", "热点研判", "重点医院", "巡防计划", "成效评估", "会商大屏", "总览"]


def _idle(b: Browser) -> None:
    b.wait_idle(timeout=600_000, polling=20)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _session(pw, base: str, out: dict[str, list[float]]) -> None:
    # No request interception: a user's browser fetches the page's files directly (tests check they are local).
    b = Browser(pw, width=1920, height=1080, intercept=False)
    try:
        b.page.goto(base)
        _idle(b)

        def sign_in() -> None:
            b.page.get_by_role("button", name="指挥员").click()
            b.page.wait_for_selector("h1:has-text('总览')", timeout=600_000)
            _idle(b)

        out["首页（登录后）"].append(_timed(sign_in))

        def open_page(title: str) -> None:
            b.page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
            b.page.wait_for_selector(f"h1:has-text('{title}')", timeout=600_000)
            _idle(b)

        for title in PAGES:
            if title == "会商大屏":
                continue  # no navigation there; measured through its link below
            out[f"切换页面：{title}"].append(_timed(lambda t=title: open_page(t)))

        def started_and_idle() -> None:
            # The rerun starts a moment after the input: wait for it to start, then to end.
            b.page.wait_for_function(
                "() => document.querySelector('[data-test-script-state]').getAttribute('data-test-script-state')"
                " === 'running'", timeout=10_000, polling=20,
            )
            _idle(b)

        def first_metric() -> str:
            return b.page.locator("[data-testid='stMetricValue']").first.inner_text()

        def filter_change(slider: str, key: str) -> None:
            # Keyboard on a sidebar slider; done when the first figure has changed and the app is idle.
            before = first_metric()
            b.page.locator(f".st-key-{slider} input[type='range']").first.press(key)
            b.page.wait_for_function(
                "(old) => { const m = document.querySelector(\"[data-testid='stMetricValue']\");"
                " return m && m.innerText !== old; }", arg=before, timeout=600_000, polling=20,
            )
            _idle(b)

        # (The 总览 date box is not driven here: typing into Streamlit's range picker leaves it half-open.)
        for name, slider, key, page in (("筛选变化：警情地图半径", "map_radius", "ArrowLeft", "警情地图"),
                                        ("筛选变化：警情地图时段", "map_hours", "ArrowRight", "警情地图")):
            open_page(page)
            try:
                seconds = _timed(lambda s=slider, k=key: filter_change(s, k))
            except Exception as exc:  # a widget whose markup changed: report, keep measuring the rest
                print(f"({name} not measured: {str(exc).splitlines()[0]})", file=sys.stderr)
            else:
                out[name].append(seconds)

        out["热点研判：页面"].append(_timed(lambda: open_page("热点研判")))

        def click(key: str, text: str) -> None:
            b.page.get_by_role("button", name=text).first.click()
            started_and_idle()

        out["热点研判：新兴热点"].append(_timed(lambda: click("eh_run", "运行新兴热点分析")))
        out["热点研判：回测"].append(_timed(lambda: click("bt_run", "运行回测")))
    finally:
        b.close()


def _wait_ready(pw, proc, base: str, t0: float, timeout: float = 900) -> None:
    """Wait for the server's start-up work (imports, incident frame, default analyses): its log says when.

    Under ``streamlit run`` that work starts with the first script run, so one page is opened first.
    """
    from dashboard.ui import READY_MESSAGE

    b = Browser(pw, width=1280, height=800, intercept=False)
    try:
        b.page.goto(base)
        _idle(b)
    finally:
        b.close()
    log = Path(proc.log_path)
    while READY_MESSAGE not in log.read_text(errors="replace"):
        if time.perf_counter() - t0 > timeout or proc.poll() is not None:
            raise RuntimeError(f"server not ready: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)
    print(f"server ready {time.perf_counter() - t0:.1f} s after start (imports, incident frame, default analyses)")


def _p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(0.95 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="SQLAlchemy URL of the store (default: build a demo ending today)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="demo size when building one (1.0 ≈ 60k incidents)")
    ap.add_argument("--no-wait-ready", action="store_true",
                    help="start the first session at once, while the server still loads and warms its caches")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    url = args.db
    if url is None:
        import datetime as dt

        import pandas as pd

        from core import settings
        from core.db import get_engine
        from geo.io.demo import build_demo

        tmp = Path(tempfile.mkdtemp(prefix="bench_pages_"))
        url = f"sqlite:///{tmp / 'demo.sqlite'}"
        end = pd.Timestamp.now(tz=settings.TIMEZONE).date() + dt.timedelta(days=1)  # data through today
        t0 = time.perf_counter()
        build_demo(get_engine(url), seed=1, scale=args.scale, end=end, out_dir=tmp / "files")
        print(f"demo built in {time.perf_counter() - t0:.1f} s: {url}")
    t0 = time.perf_counter()
    proc, base = start_server(url, timeout=300)
    results: dict[str, list[float]] = defaultdict(list)
    cold: dict[str, float] = {}
    try:
        with sync_playwright() as pw:
            if not args.no_wait_ready:
                _wait_ready(pw, proc, base, t0)
            for i in range(args.repeat):
                one: dict[str, list[float]] = defaultdict(list)
                _session(pw, base, one)
                for k, v in one.items():
                    results[k].extend(v)
                    if i == 0 and v:
                        cold[k] = v[0]
    finally:
        stop_server(proc)
    print(f"\n{'measure':<24} {'cold s':>8} {'median s':>9} {'p95 s':>7}  n")
    for k, v in results.items():
        warm = v[1:] or v
        print(f"{k:<24} {cold.get(k, float('nan')):>8.2f} {statistics.median(warm):>9.2f} {_p95(warm):>7.2f}  {len(warm)}")
    print("(cold = first session after the server " + ("started" if args.no_wait_ready else "finished its start-up work")
          + "; median/p95 over the later sessions)")


if __name__ == "__main__":
    main()
