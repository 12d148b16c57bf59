"""Benchmark: a filter change on the incident map redraws within 1.5 s (p95) with 1,000,000 incidents.

Builds (once, reused from ``settings.VAR_DIR / "bench"``) a store holding the demo's hospitals,
units and officers plus 1,000,000 synthetic incidents bulk-inserted around them (the importer would
take a quarter of an hour for this many rows), starts the dashboard on a free localhost port,
signs in with the demo commander account in Debian's Chromium, opens 警情地图 and changes the hour
filter repeatedly, timing each change from the key press until the script has finished and the
map iframe has swapped in the new incident layers. Prints the figures.

Usage: ``python benchmarks/bench_dashboard.py [--incidents 1000000] [--changes 20]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import settings  # noqa: E402

CATEGORIES = ["号贩子/倒号", "医托", "医闹/扰乱秩序", "黑救护车", "非法行医", "盗窃", "诈骗", "其他"]
TARGET_P95_S = 1.5


def build_store(path: Path, n: int, *, seed: int = 7) -> str:
    """A SQLite store with the demo's reference data and ``n`` synthetic incidents (reused if present)."""
    from core import db as store
    from geo.io.demo import build_demo

    url = f"sqlite:///{path}"
    if path.exists() and store.incident_count(store.get_engine(url)) >= n:
        return url
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in path.parent.glob(path.name + "*"):
        p.unlink()
    engine = store.get_engine(url)
    # The small demo supplies hospitals, units, officers, the demo flag and realistic rows.
    build_demo(engine, scale=0.05, seed=seed, end="2026-11-01", out_dir=path.parent / "files")
    hospitals = store.load_hospitals(engine)
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0, 1, len(hospitals))
    hi = rng.choice(len(hospitals), size=n, p=weights / weights.sum())
    near = rng.random(n) < 0.85
    lon = hospitals["lon"].to_numpy()[hi] + np.where(near, rng.normal(0, 0.0018, n), rng.normal(0, 0.08, n))
    lat = hospitals["lat"].to_numpy()[hi] + np.where(near, rng.normal(0, 0.0014, n), rng.normal(0, 0.06, n))
    end = pd.Timestamp("2026-11-01")
    hour_w = np.r_[[1.0] * 6, [6.0] * 4, [3.0] * 6, [2.0] * 4, [1.0] * 4]  # morning registration peak
    hours = rng.choice(24, size=n, p=hour_w / hour_w.sum())
    days = rng.integers(0, 365, n)
    received = end - pd.to_timedelta(days + 1, unit="D") + pd.to_timedelta(hours * 60 + rng.integers(0, 60, n), "m")
    frame = pd.DataFrame({
        "source": np.where(rng.random(n) < 0.8, "110", "complaint"),
        "source_id": [f"B{i:07d}" for i in range(n)],
        "channel": "110", "received_at": received.to_numpy(), "lon": lon, "lat": lat, "orig_crs": "wgs84",
        "approximate": False, "address": "", "category": rng.choice(CATEGORIES, n), "source_category": "",
        "description": "合成基准数据", "caller_name": "", "caller_phone": "",
        "hospital_id": np.where(near, hospitals["hospital_id"].to_numpy()[hi], None),
        "hospital_distance_m": np.where(near, rng.uniform(0, 500, n), np.nan),
    })
    frame.to_sql("incidents", engine, if_exists="append", index=False, chunksize=100_000)
    return url


def measure(url: str, *, changes: int) -> dict:
    """Time ``changes`` filter changes on the map page in Chromium; returns the figures."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import Browser, start_server, stop_server

    proc, base = start_server(url, timeout=180)
    try:
        with sync_playwright() as pw:
            b = Browser(pw, width=1600, height=1000)
            t = time.perf_counter()
            b.page.goto(base)
            b.wait_idle()
            b.page.get_by_role("button", name="指挥员").click()
            b.page.wait_for_selector("h1:has-text('总览')", timeout=600_000)
            b.wait_idle(timeout=600_000)
            first_load = time.perf_counter() - t
            t = time.perf_counter()
            b.page.locator("[data-testid='stSidebarNav'] a", has_text="警情地图").first.click()
            b.page.wait_for_selector("h1:has-text('警情地图')", timeout=600_000)
            b.wait_idle(timeout=600_000)
            _wait_map(b.page)
            open_map = time.perf_counter() - t
            thumb = b.page.locator("[data-testid='stSlider']").filter(has_text="时段").locator(
                "input[type='range']").first
            frame = next(f for f in b.page.frames if "streamlit_folium" in f.url)
            times = []
            for i in range(changes):
                # The incident layers arrive as a new feature group (st_folium appends it to this list).
                frame.evaluate("() => { window.__old_n = (window.feature_group || []).length; }")
                thumb.focus()
                t = time.perf_counter()
                b.page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                b.page.wait_for_selector("[data-test-script-state='running']", timeout=30_000)
                b.page.wait_for_selector("[data-test-script-state='notRunning']", timeout=60_000)
                frame.wait_for_function(
                    "() => window.feature_group && window.feature_group.length > 0 && "
                    "window.feature_group.length > window.__old_n && "
                    "document.querySelector('.leaflet-overlay-pane canvas')",
                    timeout=60_000,
                )
                times.append(time.perf_counter() - t)
            external, errors = list(b.external), list(b.errors)
            b.close()
    finally:
        stop_server(proc)
    arr = np.array(times)
    return {
        "first_load_s": first_load, "open_map_s": open_map, "changes": len(arr),
        "median_s": float(np.median(arr)), "p95_s": float(np.percentile(arr, 95)), "max_s": float(arr.max()),
        "external_requests": len(external), "console_errors": errors,
    }


def _wait_map(page) -> None:
    """Until the st_folium iframe holds a Leaflet map with its overlay canvas drawn."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('iframe')].some(f => {
            try { const d = f.contentDocument; return d && d.querySelector('.leaflet-overlay-pane canvas'); }
            catch (e) { return false; } })""",
        timeout=60_000,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=1_000_000)
    ap.add_argument("--changes", type=int, default=20)
    args = ap.parse_args(argv)
    if not Path("/usr/bin/chromium").exists():
        print("跳过：未安装 Debian chromium（/usr/bin/chromium）")
        return 0
    t = time.perf_counter()
    url = build_store(settings.VAR_DIR / "bench" / f"bench_{args.incidents}.sqlite", args.incidents)
    print(f"store: {args.incidents:,} incidents ready in {time.perf_counter() - t:.1f} s ({url})")
    r = measure(url, changes=args.changes)
    print(f"first load after sign-in (loads and caches all incidents): {r['first_load_s']:.2f} s")
    print(f"open 警情地图: {r['open_map_s']:.2f} s")
    print(f"filter change -> map redrawn, {r['changes']} changes: median {r['median_s']:.2f} s, "
          f"p95 {r['p95_s']:.2f} s, max {r['max_s']:.2f} s (target p95 <= {TARGET_P95_S} s)")
    print(f"external requests: {r['external_requests']}; console errors: {len(r['console_errors'])}")
    ok = r["p95_s"] <= TARGET_P95_S and r["external_requests"] == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
